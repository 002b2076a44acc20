//! Reading the validator epochs: which blocks the current one holds, who signs it, and how
//! governance changed their length.

use phala_primitives::consensus::{EpochBounds, EpochSchedule};
use phala_primitives::{BlockNumber, H256};
use phala_runtime::modules::validators;

use crate::{Client, ClientError};

/// The epochs as the finalized state has them.
#[derive(Clone, Debug)]
pub struct EpochView {
    /// The finalized head it was read at.
    pub at: (BlockNumber, H256),
    /// The epoch the next block belongs to.
    pub current: EpochBounds,
    pub schedule: EpochSchedule,
    /// A length governance set, which the current epoch's last block takes up.
    pub next_length: Option<u32>,
    /// The current epoch's committee.
    pub committee: Vec<validators::Member>,
}

impl Client {
    /// The epochs at the finalized head.
    pub async fn epochs(&self) -> Result<EpochView, ClientError> {
        let (number, hash) = self.finalized_head().await?;
        let at = Some(hash);
        let params: validators::Params = self
            .storage_decoded("Validators.Params", &validators::PARAMS.key(), at)
            .await?
            .unwrap_or_default();
        let segments: Option<Vec<phala_primitives::consensus::EpochSegment>> = self
            .storage_decoded(
                "Validators.EpochSchedule",
                &validators::EPOCH_SCHEDULE.key(),
                at,
            )
            .await?;
        let schedule = match segments {
            Some(segments) => {
                EpochSchedule::from_segments(segments).map_err(|e| ClientError::Decode {
                    what: "Validators.EpochSchedule".into(),
                    reason: e.to_string(),
                })?
            }
            None => EpochSchedule::fixed(params.epoch_length),
        };
        let current = schedule
            .containing(number.saturating_add(1))
            .ok_or_else(|| ClientError::Decode {
                what: "Validators.EpochSchedule".into(),
                reason: format!("block #{number} is past every epoch"),
            })?;
        let next_length = self
            .storage_decoded(
                "Validators.NextEpochLength",
                &validators::NEXT_EPOCH_LENGTH.key(),
                at,
            )
            .await?;
        let committee = self
            .storage_decoded(
                "a Validators.Committees entry",
                &validators::COMMITTEES.key(&current.epoch),
                at,
            )
            .await?
            .unwrap_or_default();
        Ok(EpochView {
            at: (number, hash),
            current,
            schedule,
            next_length,
            committee,
        })
    }
}
