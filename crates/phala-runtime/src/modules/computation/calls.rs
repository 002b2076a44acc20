use parity_scale_codec::{Decode, Encode};
use phala_mq::SignedMessage;
use phala_mq::computation::ComputationEvent;
use phala_tokenomics::Params;
use scale_info::TypeInfo;

use super::{DOUBLE_SIGN_SLASH, Error, Event, HEARTBEAT_PAUSED, Hooks, PARAMS, faults, push};
use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::weights;

/// Calls of the `Computation` module. Sessions are driven by their owners' module
/// (`StakePools`); here are root's parameters and anyone's evidence.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Set the economics' per-block parameters (root, or a referendum on the parameters track). Gatekeepers
    /// compute with them from the next block on.
    #[codec(index = 0)]
    set_params { params: Params },
    /// Report a worker that signed two different messages with one sequence. Submitted
    /// unsigned by anyone who holds both; valid evidence slashes the worker's session stake
    /// once and bars the worker from computing.
    #[codec(index = 1)]
    report_double_sign {
        first: SignedMessage,
        second: SignedMessage,
    },
    /// Set the share of a session's stake a double signing costs, in parts per billion
    /// (root, or a referendum on the parameters track).
    #[codec(index = 2)]
    set_double_sign_slash { perbill: u32 },
    /// Pause or resume the heartbeat challenges (root, or a referendum on the parameters
    /// track), as classic Phala's `set_heartbeat_paused`: while paused no challenge is
    /// issued, so no worker is judged offline (say, while congestion keeps heartbeats
    /// from landing) and none is paid. The paused blocks pay nothing: the budget does not
    /// accrue, and on resuming every session's next payout counts from the resume.
    #[codec(index = 3)]
    set_heartbeat_paused { paused: bool },
}

/// Block start forgets the challenge that leaves the window each block, counting with the
/// window in force: when a new window is shorter, the challenges between the old and the
/// new edge would never leave. They go now. (A longer window takes effect as challenges
/// accumulate; until then heartbeats for ones already forgotten are refused, as any late
/// one is.)
fn forget_unreachable_challenges(ext: &mut Ext, new: &Params) {
    let Some(old) = PARAMS.get(ext) else { return };
    if new.heartbeat_window >= old.heartbeat_window {
        return;
    }
    let now = crate::modules::system::block_number(ext);
    let edge = |window: u32| {
        now.saturating_sub(
            window
                .saturating_add(super::SETTLEMENT_MEMORY)
                .saturating_add(1),
        )
    };
    for block in edge(old.heartbeat_window)..=edge(new.heartbeat_window) {
        super::CHALLENGES.remove(ext, &block);
    }
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        match self {
            Call::report_double_sign { first, second } => {
                let bytes = first
                    .message
                    .payload
                    .len()
                    .saturating_add(second.message.payload.len());
                DispatchInfo {
                    // Two signature checks over the messages, the stop and the slash.
                    weight: weights::add(
                        weights::reads_writes(10, 10),
                        weights::compute(
                            u64::try_from(bytes)
                                .unwrap_or(u64::MAX)
                                .saturating_mul(2_000)
                                .saturating_add(300_000_000),
                        ),
                    ),
                    class: DispatchClass::Operational,
                    pays_fee: Pays::No,
                }
            }
            // A shorter window forgets up to a window's challenges at once.
            Call::set_params { .. } => DispatchInfo {
                weight: weights::reads_writes(
                    2,
                    u64::from(phala_tokenomics::MAX_HEARTBEAT_WINDOW).saturating_add(2),
                ),
                ..Default::default()
            },
            Call::set_double_sign_slash { .. } | Call::set_heartbeat_paused { .. } => {
                DispatchInfo {
                    weight: weights::reads_writes(1, 2),
                    ..Default::default()
                }
            }
        }
    }

    pub fn dispatch<H: Hooks>(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::set_params { params } => {
                origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
                params.check().map_err(|_| Error::BadParams)?;
                forget_unreachable_challenges(ext, &params);
                PARAMS.put(ext, &params);
                push(
                    ext,
                    &ComputationEvent::ParamsSet {
                        params: params.encode(),
                    },
                )?;
                ext.deposit_event(Event::ParamsSet);
                Ok(())
            }
            Call::report_double_sign { first, second } => {
                origin.ensure_none()?;
                faults::punish_double_sign::<H>(ext, &first, &second)
            }
            Call::set_double_sign_slash { perbill } => {
                origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
                if perbill > 1_000_000_000 {
                    return Err(Error::BadParams.into());
                }
                DOUBLE_SIGN_SLASH.put(ext, &perbill);
                ext.deposit_event(Event::DoubleSignSlashSet { perbill });
                Ok(())
            }
            Call::set_heartbeat_paused { paused } => {
                origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
                let was = HEARTBEAT_PAUSED.get_or_default(ext);
                if was && !paused {
                    push(ext, &ComputationEvent::HeartbeatResumed)?;
                    let now = crate::modules::system::block_number(ext);
                    super::HEARTBEAT_RESUMED_AT.put(ext, &now);
                }
                HEARTBEAT_PAUSED.put(ext, &paused);
                ext.deposit_event(Event::HeartbeatPauseSet { paused });
                Ok(())
            }
        }
    }
}
