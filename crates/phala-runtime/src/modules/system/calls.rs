use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use super::Event;
use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::weights;

/// Calls of the `System` module (FRAME's call indices).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Make some on-chain remark.
    #[codec(index = 0)]
    remark { remark: Vec<u8> },
    /// Make some on-chain remark and emit an event.
    #[codec(index = 7)]
    remark_with_event { remark: Vec<u8> },
    /// Switch the chain to runtime `spec_version` at block `at_block` (root: a referendum
    /// on the root track). Nodes that support that version switch there; nodes that do not
    /// stop before executing it, saying what to install. Replaces any earlier schedule.
    #[codec(index = 12)]
    schedule_upgrade {
        spec_version: u32,
        at_block: phala_primitives::BlockNumber,
    },
    /// Call off a scheduled upgrade that has not happened yet (root).
    #[codec(index = 13)]
    cancel_upgrade,
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let (Call::remark { remark } | Call::remark_with_event { remark }) = self else {
            // Normal: root's calls reach the chain through referenda, and anyone may submit
            // them (to fail), so they get no operational room or priority.
            return DispatchInfo {
                weight: weights::reads_writes(3, 1),
                class: DispatchClass::Normal,
                pays_fee: Pays::Yes,
            };
        };
        // Hashing the remark is the only work; 1 ns per byte covers it.
        let bytes = u64::try_from(remark.len()).unwrap_or(u64::MAX);
        let weight = weights::compute(2_000_000u64.saturating_add(bytes.saturating_mul(1_000)));
        DispatchInfo {
            weight,
            class: DispatchClass::Normal,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::remark { .. } => {
                origin.ensure_signed_or_root()?;
                Ok(())
            }
            Call::remark_with_event { remark } => {
                let sender = origin.ensure_signed()?;
                let hash = phala_primitives::hashing::hash256(&remark);
                ext.deposit_event(Event::Remarked { sender, hash });
                Ok(())
            }
            Call::schedule_upgrade {
                spec_version,
                at_block,
            } => {
                origin.ensure_root()?;
                if spec_version <= super::active_spec_version(ext) {
                    return Err(super::Error::SpecVersionNeedsToIncrease.into());
                }
                if at_block < super::block_number(ext).saturating_add(super::MIN_UPGRADE_LEAD) {
                    return Err(super::Error::UpgradeInThePast.into());
                }
                super::SCHEDULED_UPGRADE.put(ext, &(spec_version, at_block));
                ext.deposit_event(Event::UpgradeScheduled {
                    spec_version,
                    at_block,
                });
                Ok(())
            }
            Call::cancel_upgrade => {
                origin.ensure_root()?;
                let (spec_version, at_block) = super::SCHEDULED_UPGRADE
                    .get(ext)
                    .ok_or(super::Error::NothingScheduled)?;
                super::SCHEDULED_UPGRADE.kill(ext);
                ext.deposit_event(Event::UpgradeCancelled {
                    spec_version,
                    at_block,
                });
                Ok(())
            }
        }
    }
}
