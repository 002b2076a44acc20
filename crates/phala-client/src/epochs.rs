//! Reading the validator epochs: which blocks the current one holds, who signs it, and how
//! governance changed their length.

use phala_primitives::consensus::{EpochBounds, EpochSchedule, EpochSegment};
use phala_primitives::{BlockNumber, H256};
use phala_runtime::modules::validators;

use crate::{Client, ClientError};

/// The epochs as the finalized state has them.
#[derive(Clone, Debug)]
pub struct EpochView {
    /// The finalized head it was read at.
    pub at: (BlockNumber, H256),
    /// The epoch the finalized head is in.
    pub current: EpochBounds,
    /// The epoch after it, as far as the chain has decided: its length is final once the
    /// current epoch's last block is (that block takes up any length governance set).
    pub next: EpochBounds,
    pub schedule: EpochSchedule,
    /// A length governance set, which the current epoch's last block takes up.
    pub next_length: Option<u32>,
    /// The current epoch's committee.
    pub committee: Vec<validators::Member>,
    /// The next epoch's, once elected (at the current epoch's last block).
    pub next_committee: Option<Vec<validators::Member>>,
}

fn bad_schedule(reason: String) -> ClientError {
    ClientError::Decode {
        what: "Validators.EpochSchedule".into(),
        reason,
    }
}

impl Client {
    /// Which blocks each epoch holds, as the state of block `at` has it (the best block if
    /// `None`).
    pub async fn epoch_schedule(&self, at: Option<H256>) -> Result<EpochSchedule, ClientError> {
        let params: validators::Params = self
            .storage_decoded("Validators.Params", &validators::PARAMS.key(), at)
            .await?
            .unwrap_or_default();
        let segments: Option<Vec<EpochSegment>> = self
            .storage_decoded(
                "Validators.EpochSchedule",
                &validators::EPOCH_SCHEDULE.key(),
                at,
            )
            .await?;
        match segments {
            Some(segments) => {
                EpochSchedule::from_segments(segments).map_err(|e| bad_schedule(e.to_string()))
            }
            None => Ok(EpochSchedule::fixed(params.epoch_length)),
        }
    }

    /// The epochs at the finalized head.
    pub async fn epochs(&self) -> Result<EpochView, ClientError> {
        let (number, hash) = self.finalized_head().await?;
        let at = Some(hash);
        let schedule = self.epoch_schedule(at).await?;
        let current = schedule
            .containing(number)
            .ok_or_else(|| bad_schedule(format!("block #{number} is past every epoch")))?;
        let next_length: Option<u32> = self
            .storage_decoded(
                "Validators.NextEpochLength",
                &validators::NEXT_EPOCH_LENGTH.key(),
                at,
            )
            .await?;
        // Past the current epoch the stored schedule knows only what its last block decided.
        let next = if number == current.last {
            schedule.containing(current.last.saturating_add(1))
        } else {
            let length = next_length.unwrap_or_else(|| schedule.current_length());
            current.next(length)
        }
        .ok_or_else(|| bad_schedule("the next epoch is past the last block".into()))?;
        let committee_of = |epoch: u64| async move {
            self.storage_decoded::<Vec<validators::Member>>(
                "a Validators.Committees entry",
                &validators::COMMITTEES.key(&epoch),
                at,
            )
            .await
        };
        let committee = committee_of(current.epoch).await?.unwrap_or_default();
        let next_committee = committee_of(next.epoch).await?;
        Ok(EpochView {
            at: (number, hash),
            current,
            next,
            schedule,
            next_length,
            committee,
            next_committee,
        })
    }
}
