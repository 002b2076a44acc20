use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Balance, BlockNumber, MultiAddress};
use scale_info::TypeInfo;

use super::{
    APPROVALS, Error, Event, NativeOrWithId, PROPOSAL_COUNT, PROPOSALS, PaymentState, Proposal,
    SPEND_COUNT, SPENDS, SpendStatus, now, params, pay, spend_limit,
};
use crate::Ext;
use crate::dispatch::{DispatchError, DispatchInfo, DispatchResult, Origin};
use crate::modules::weights;
use crate::origin::GovOrigin;

/// Calls of the `Treasury` module (`pallet_treasury::Call`; 0–2 were removed upstream).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Queue an award of `amount` to `beneficiary`, paid at the next spend period (a
    /// spending origin, up to its limit).
    #[codec(index = 3)]
    spend_local {
        #[codec(compact)]
        amount: Balance,
        beneficiary: MultiAddress,
    },
    /// Drop a queued award (root or the treasurer).
    #[codec(index = 4)]
    remove_approval {
        #[codec(compact)]
        proposal_id: u32,
    },
    /// Approve a payment of `amount` to `beneficiary`, claimable with `payout` from
    /// `valid_from` (now if none) for the payout period (a spending origin, up to its
    /// limit).
    #[codec(index = 5)]
    spend {
        asset_kind: Box<NativeOrWithId>,
        #[codec(compact)]
        amount: Balance,
        beneficiary: Box<MultiAddress>,
        valid_from: Option<BlockNumber>,
    },
    /// Pay out an approved spend (anyone).
    #[codec(index = 6)]
    payout { index: u32 },
    /// Remove a paid or expired spend (anyone).
    #[codec(index = 7)]
    check_status { index: u32 },
    /// Cancel a spend not yet paid (root or the treasurer).
    #[codec(index = 8)]
    void_spend { index: u32 },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::spend_local { .. } | Call::remove_approval { .. } => weights::reads_writes(4, 3),
            Call::spend { .. } => weights::reads_writes(3, 2),
            Call::payout { .. } => weights::reads_writes(6, 5),
            Call::check_status { .. } | Call::void_spend { .. } => weights::reads_writes(2, 1),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::spend_local {
                amount,
                beneficiary,
            } => {
                let limit = spend_limit(ext, origin)?;
                if amount > limit {
                    return Err(Error::InsufficientPermission.into());
                }
                let beneficiary = beneficiary.account().ok_or(DispatchError::CannotLookup)?;
                let index = PROPOSAL_COUNT.get_or_default(ext);
                let mut approvals = APPROVALS.get_or_default(ext);
                approvals
                    .try_push(index)
                    .map_err(|_| Error::TooManyApprovals)?;
                APPROVALS.put(ext, &approvals);
                PROPOSAL_COUNT.put(ext, &index.saturating_add(1));
                PROPOSALS.insert(
                    ext,
                    &index,
                    &Proposal {
                        proposer: beneficiary,
                        value: amount,
                        beneficiary,
                        bond: 0,
                    },
                );
                ext.deposit_event(Event::SpendApproved {
                    proposal_index: index,
                    amount,
                    beneficiary,
                });
                Ok(())
            }
            Call::remove_approval { proposal_id } => {
                origin.ensure_root_or(GovOrigin::Treasurer)?;
                let mut approvals = APPROVALS.get_or_default(ext);
                let at = approvals
                    .iter()
                    .position(|i| *i == proposal_id)
                    .ok_or(Error::ProposalNotApproved)?;
                approvals.as_mut_vec().remove(at);
                APPROVALS.put(ext, &approvals);
                PROPOSALS.remove(ext, &proposal_id);
                Ok(())
            }
            Call::spend {
                asset_kind,
                amount,
                beneficiary,
                valid_from,
            } => {
                let limit = spend_limit(ext, origin)?;
                if *asset_kind != NativeOrWithId::Native {
                    return Err(Error::FailedToConvertBalance.into());
                }
                if amount > limit {
                    return Err(Error::InsufficientPermission.into());
                }
                let beneficiary = beneficiary.account().ok_or(DispatchError::CannotLookup)?;
                let now = now(ext);
                let valid_from = valid_from.unwrap_or(now);
                let expire_at = valid_from.saturating_add(params(ext).payout_period);
                if expire_at <= now {
                    return Err(Error::SpendExpired.into());
                }
                let index = SPEND_COUNT.get_or_default(ext);
                SPEND_COUNT.put(ext, &index.saturating_add(1));
                SPENDS.insert(
                    ext,
                    &index,
                    &SpendStatus {
                        asset_kind: *asset_kind,
                        amount,
                        beneficiary,
                        valid_from,
                        expire_at,
                        status: PaymentState::Pending,
                    },
                );
                ext.deposit_event(Event::AssetSpendApproved {
                    index,
                    asset_kind: *asset_kind,
                    amount,
                    beneficiary,
                    valid_from,
                    expire_at,
                });
                Ok(())
            }
            Call::payout { index } => {
                origin.ensure_signed()?;
                let mut spend = SPENDS.get(ext, &index).ok_or(Error::InvalidIndex)?;
                let now = now(ext);
                if now < spend.valid_from {
                    return Err(Error::EarlyPayout.into());
                }
                if now >= spend.expire_at {
                    return Err(Error::SpendExpired.into());
                }
                if matches!(spend.status, PaymentState::Attempted { .. }) {
                    return Err(Error::AlreadyAttempted.into());
                }
                pay(ext, &spend.beneficiary, spend.amount)?;
                spend.status = PaymentState::Attempted { id: () };
                SPENDS.insert(ext, &index, &spend);
                ext.deposit_event(Event::Paid {
                    index,
                    payment_id: (),
                });
                Ok(())
            }
            Call::check_status { index } => {
                origin.ensure_signed()?;
                let spend = SPENDS.get(ext, &index).ok_or(Error::InvalidIndex)?;
                let expired = now(ext) >= spend.expire_at;
                match spend.status {
                    // Payments from the treasury account complete when made.
                    PaymentState::Attempted { .. } => {}
                    _ if expired => {}
                    _ => return Err(Error::NotAttempted.into()),
                }
                SPENDS.remove(ext, &index);
                ext.deposit_event(Event::SpendProcessed { index });
                Ok(())
            }
            Call::void_spend { index } => {
                origin.ensure_root_or(GovOrigin::Treasurer)?;
                let spend = SPENDS.get(ext, &index).ok_or(Error::InvalidIndex)?;
                if matches!(spend.status, PaymentState::Attempted { .. }) {
                    return Err(Error::AlreadyAttempted.into());
                }
                SPENDS.remove(ext, &index);
                ext.deposit_event(Event::AssetSpendVoided { index });
                Ok(())
            }
        }
    }
}
