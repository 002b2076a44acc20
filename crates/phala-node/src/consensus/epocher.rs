//! Which heights each epoch holds, for marshal and the simplex engines, read from the chain's
//! finalized state: governance can change the length of epochs, so no formula fixed at
//! genesis will do.
//!
//! Only epochs up to the one the next finalized block belongs to are answered. A later
//! epoch's length is decided by the boundary block before it, which this node has not
//! committed yet: guessing would make marshal check a certificate against the wrong epoch.
//! Marshal drops what it cannot place and the orchestrator asks again once it enters the
//! epoch, as it already does for committees it has not learned.

use std::sync::{Arc, RwLock};

use commonware_consensus::types::{Epoch, EpochInfo, Epocher, Height};
use phala_chain::Chain;
use phala_primitives::BlockNumber;
use phala_primitives::consensus::{EpochBounds, EpochSchedule};
use phala_runtime::Ext;
use phala_runtime::modules::validators;

struct Known {
    schedule: EpochSchedule,
    /// The newest epoch answered for.
    horizon: u64,
}

/// An [`Epocher`] over the chain's epoch schedule, refreshed by the orchestrator at each
/// epoch boundary it commits.
#[derive(Clone)]
pub struct ScheduleEpocher {
    known: Arc<RwLock<Known>>,
}

impl std::fmt::Debug for ScheduleEpocher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScheduleEpocher")
    }
}

/// The schedule in the finalized state, and the epoch of the block after the finalized head.
fn read(chain: &Chain) -> Result<Known, String> {
    let (finalized, _) = chain.finalized().map_err(|e| e.to_string())?;
    let view = chain.view(None).map_err(|e| e.to_string())?;
    let backend = phala_chain::backend::ViewBackend(&view);
    let schedule = validators::schedule(&Ext::new(&backend))
        .ok_or("the chain's genesis sets no epoch length")?;
    let horizon = schedule
        .containing(finalized.saturating_add(1))
        .ok_or_else(|| format!("block #{finalized} is past the last epoch"))?
        .epoch;
    Ok(Known { schedule, horizon })
}

impl ScheduleEpocher {
    pub fn load(chain: &Chain) -> Result<Self, String> {
        Ok(ScheduleEpocher {
            known: Arc::new(RwLock::new(read(chain)?)),
        })
    }

    /// Re-reads the schedule after a committed block (an epoch boundary may have changed
    /// it and moves the horizon on).
    pub fn refresh(&self, chain: &Chain) -> Result<(), String> {
        let known = read(chain)?;
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = known;
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&Known) -> Option<T>) -> Option<T> {
        f(&self.known.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn info(bounds: EpochBounds, height: Height) -> EpochInfo {
        EpochInfo::new(
            Epoch::new(bounds.epoch),
            height,
            Height::new(u64::from(bounds.first)),
            Height::new(u64::from(bounds.last)),
        )
    }

    fn bounds(&self, epoch: Epoch) -> Option<EpochBounds> {
        self.with(|k| {
            (epoch.get() <= k.horizon)
                .then(|| k.schedule.bounds(epoch.get()))
                .flatten()
        })
    }
}

impl Epocher for ScheduleEpocher {
    fn containing(&self, height: Height) -> Option<EpochInfo> {
        let number = BlockNumber::try_from(height.get()).ok()?;
        let bounds = self.with(|k| {
            k.schedule
                .containing(number)
                .filter(|b| b.epoch <= k.horizon)
        })?;
        Some(Self::info(bounds, height))
    }

    fn first(&self, epoch: Epoch) -> Option<Height> {
        self.bounds(epoch).map(|b| Height::new(u64::from(b.first)))
    }

    fn last(&self, epoch: Epoch) -> Option<Height> {
        self.bounds(epoch).map(|b| Height::new(u64::from(b.last)))
    }
}
