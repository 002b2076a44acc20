//! `Treasury`: the network's own PHA — fees, slashes and the reward share flow into it —
//! and spends of it that governance approves.
//!
//! Substrate's `pallet-treasury`, same calls (from index 3), storage and events. A spend is
//! approved by a referendum on a spending track, up to that track's limit (root has none):
//! `spend` records a payment anyone may trigger with `payout` from its `valid_from` block
//! until the payout period ends; `spend_local` queues an award paid at the next spend
//! period. At each spend period what the queued awards leave is burnt at the `burn` rate
//! (zero rolls it all over). The pot is the treasury account's free balance above the
//! existential deposit, less the gas revenue it holds for compute providers.

mod calls;
#[cfg(test)]
mod tests;

pub use calls::Call;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber, PHA, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::arith::Perbill;
use crate::bounded::BoundedVec;
use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::referenda::tracks::blocks_of;
use crate::modules::{TREASURY_ACCOUNT, balances, contracts, index, system};
use crate::origin::{GovOrigin, Origin};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Treasury";

/// Awards waiting for the next spend period (Polkadot's 100).
pub const MAX_APPROVALS: u32 = 100;
/// The treasury's `PalletId`: its account is `modl` ‖ this.
pub const PALLET_ID: [u8; 8] = *b"py/trsry";

/// The treasury's chain parameters.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Params {
    /// Blocks between payouts of `spend_local` awards (and burns).
    pub spend_period: BlockNumber,
    /// Share of what is left at each spend period that is burnt; zero rolls it over.
    pub burn: Perbill,
    /// Blocks a `spend` may be paid out for, from its `valid_from`.
    pub payout_period: BlockNumber,
    /// The most each spending origin may approve in one spend; root has no limit.
    pub limits: Vec<(GovOrigin, Balance)>,
}

impl Params {
    /// After Polkadot's, in days at `block_ms`, with limits in PHA.
    pub fn live(block_ms: u64) -> Self {
        const DAY: u64 = 86_400;
        Params {
            spend_period: blocks_of(24 * DAY, block_ms),
            burn: Perbill::from_percent(1),
            payout_period: blocks_of(30 * DAY, block_ms),
            limits: Self::limits(),
        }
    }

    /// A development chain's: payouts every minute, a day to claim a spend.
    pub fn development(block_ms: u64) -> Self {
        Params {
            spend_period: blocks_of(60, block_ms),
            burn: Perbill::ZERO,
            payout_period: blocks_of(86_400, block_ms),
            limits: Self::limits(),
        }
    }

    fn limits() -> Vec<(GovOrigin, Balance)> {
        vec![
            (GovOrigin::Treasurer, 10_000_000 * PHA),
            (GovOrigin::SmallSpender, 10_000 * PHA),
            (GovOrigin::MediumSpender, 100_000 * PHA),
            (GovOrigin::BigSpender, 1_000_000 * PHA),
        ]
    }

    /// Refuses a zero period.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.spend_period == 0 || self.payout_period == 0 {
            return Err("treasury periods must be at least one block");
        }
        Ok(())
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::live(1_000)
    }
}

/// `frame_support::traits::tokens::fungible::union_of::NativeOrWithId`: PHA, or an asset
/// this chain does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[scale_info(replace_segment("phala_runtime", "frame_support"))]
#[scale_info(replace_segment("modules", "traits"))]
#[scale_info(replace_segment("treasury", "tokens"))]
pub enum NativeOrWithId {
    #[codec(index = 0)]
    Native,
    #[codec(index = 1)]
    WithId(u32),
}

/// `pallet_treasury::PaymentState`. Payments from the treasury account complete at once,
/// so their id is `()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum PaymentState {
    #[codec(index = 0)]
    Pending,
    #[codec(index = 1)]
    Attempted { id: () },
    #[codec(index = 2)]
    Failed,
}

/// `pallet_treasury::SpendStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SpendStatus {
    pub asset_kind: NativeOrWithId,
    pub amount: Balance,
    pub beneficiary: AccountId32,
    pub valid_from: BlockNumber,
    pub expire_at: BlockNumber,
    pub status: PaymentState,
}

/// `pallet_treasury::Proposal`: an award `spend_local` queued (its bond is always zero).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Proposal {
    pub proposer: AccountId32,
    pub value: Balance,
    pub beneficiary: AccountId32,
    pub bond: Balance,
}

pub const PROPOSAL_COUNT: StorageValue<u32> = StorageValue::new(
    MODULE,
    "ProposalCount",
    Query::Default,
    &[" Number of proposals that have been made."],
);
pub const PROPOSALS: StorageMap<u32, Proposal> = StorageMap::new(
    MODULE,
    "Proposals",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Proposals that have been made."],
);
pub const DEACTIVATED: StorageValue<Balance> = StorageValue::new(
    MODULE,
    "Deactivated",
    Query::Default,
    &[" The amount which has been reported as inactive to Currency (always zero here)."],
);
pub const APPROVALS: StorageValue<BoundedVec<u32, MAX_APPROVALS>> = StorageValue::new(
    MODULE,
    "Approvals",
    Query::Default,
    &[" Proposal indices that have been approved but not yet awarded."],
);
pub const SPEND_COUNT: StorageValue<u32> = StorageValue::new(
    MODULE,
    "SpendCount",
    Query::Default,
    &[" The count of spends that have been made."],
);
pub const SPENDS: StorageMap<u32, SpendStatus> = StorageMap::new(
    MODULE,
    "Spends",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Spends that have been approved and being processed."],
);
pub const LAST_SPEND_PERIOD: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "LastSpendPeriod",
    Query::Optional,
    &[" The blocknumber for the last triggered spend period."],
);
/// Not upstream (its parameters are compiled in): this chain's.
pub const PARAMS: StorageValue<Params> = StorageValue::new(
    MODULE,
    "Params",
    Query::Optional,
    &[" Spend period, burn rate, payout period and spending limits of this chain."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        PROPOSAL_COUNT.metadata(),
        PROPOSALS.metadata_optional(),
        DEACTIVATED.metadata(),
        APPROVALS.metadata(),
        SPEND_COUNT.metadata(),
        SPENDS.metadata_optional(),
        LAST_SPEND_PERIOD.metadata(),
        PARAMS.metadata(),
    ]
}

pub fn params(ext: &Ext) -> Params {
    PARAMS.get(ext).unwrap_or_default()
}

/// Events of the `Treasury` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// We have ended a spend period and will now allocate funds.
    #[codec(index = 0)]
    Spending { budget_remaining: Balance },
    /// Some funds have been allocated.
    #[codec(index = 1)]
    Awarded {
        proposal_index: u32,
        award: Balance,
        account: AccountId32,
    },
    /// Some of our funds have been burnt.
    #[codec(index = 2)]
    Burnt { burnt_funds: Balance },
    /// Spending has finished; this is the amount that rolls over until next spend.
    #[codec(index = 3)]
    Rollover { rollover_balance: Balance },
    /// Some funds have been deposited.
    #[codec(index = 4)]
    Deposit { value: Balance },
    /// A new spend proposal has been approved.
    #[codec(index = 5)]
    SpendApproved {
        proposal_index: u32,
        amount: Balance,
        beneficiary: AccountId32,
    },
    /// The inactive funds of the pallet have been updated.
    #[codec(index = 6)]
    UpdatedInactive {
        reactivated: Balance,
        deactivated: Balance,
    },
    /// A new asset spend proposal has been approved.
    #[codec(index = 7)]
    AssetSpendApproved {
        index: u32,
        asset_kind: NativeOrWithId,
        amount: Balance,
        beneficiary: AccountId32,
        valid_from: BlockNumber,
        expire_at: BlockNumber,
    },
    /// An approved spend was voided.
    #[codec(index = 8)]
    AssetSpendVoided { index: u32 },
    /// A payment happened.
    #[codec(index = 9)]
    Paid { index: u32, payment_id: () },
    /// A payment failed and can be retried.
    #[codec(index = 10)]
    PaymentFailed { index: u32, payment_id: () },
    /// A spend was processed and removed from the storage. It might have been successfully
    /// paid or it may have expired.
    #[codec(index = 11)]
    SpendProcessed { index: u32 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Treasury(e)
    }
}

/// Errors of the `Treasury` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// No proposal, bounty or spend at that index.
    InvalidIndex,
    /// Too many approvals in the queue.
    TooManyApprovals,
    /// The spend origin is valid but the amount it is allowed to spend is lower than the
    /// amount to be spent.
    InsufficientPermission,
    /// Proposal has not been approved.
    ProposalNotApproved,
    /// The balance of the asset kind is not convertible to the balance of the native asset.
    FailedToConvertBalance,
    /// The spend has expired and cannot be claimed.
    SpendExpired,
    /// The spend is not yet eligible for payout.
    EarlyPayout,
    /// The payment has already been attempted.
    AlreadyAttempted,
    /// There was some issue with the mechanism of payment.
    PayoutError,
    /// The payout was not yet attempted/claimed.
    NotAttempted,
    /// The payment has neither failed nor succeeded yet.
    Inconclusive,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::TREASURY;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// The most `origin` may spend at once: unlimited for root, its track's limit for a
/// spending origin, and `BadOrigin` for anyone else.
pub fn spend_limit(ext: &Ext, origin: Origin) -> Result<Balance, DispatchError> {
    match origin {
        Origin::Root => Ok(Balance::MAX),
        Origin::Gov(g) => params(ext)
            .limits
            .iter()
            .find(|(o, _)| *o == g)
            .map(|(_, limit)| *limit)
            .ok_or(DispatchError::BadOrigin),
        _ => Err(DispatchError::BadOrigin),
    }
}

/// What the treasury may spend: its free balance above the existential deposit, less the
/// gas revenue it holds for providers.
pub fn pot(ext: &Ext) -> Balance {
    balances::free_balance(ext, &TREASURY_ACCOUNT)
        .saturating_sub(balances::EXISTENTIAL_DEPOSIT)
        .saturating_sub(contracts::gas::owed(ext))
}

/// Pays `amount` out of the pot to `to`.
fn pay(ext: &mut Ext, to: &AccountId32, amount: Balance) -> Result<(), DispatchError> {
    if amount > pot(ext) {
        return Err(Error::PayoutError.into());
    }
    balances::transfer(ext, &TREASURY_ACCOUNT, to, amount, true)
        .map_err(|_| Error::PayoutError.into())
}

/// Block start: at each spend period, pays queued awards that fit the pot, burns the
/// configured share of what is left, and reports the rollover.
pub fn on_initialize(ext: &mut Ext, now: BlockNumber) {
    let params = params(ext);
    if params.spend_period == 0 || now == 0 || now.checked_rem(params.spend_period) != Some(0) {
        return;
    }
    LAST_SPEND_PERIOD.put(ext, &now);
    let mut budget = pot(ext);
    ext.deposit_event(Event::Spending {
        budget_remaining: budget,
    });
    let mut approvals = APPROVALS.get_or_default(ext);
    let mut missed = false;
    let mut paid = Vec::new();
    for index in approvals.iter().copied() {
        let Some(p) = PROPOSALS.get(ext, &index) else {
            paid.push(index);
            continue;
        };
        if p.value > budget {
            missed = true;
            continue;
        }
        // The award either moves whole or stays queued (a beneficiary that cannot receive
        // it, say below the existential deposit, waits for the next period).
        if ext
            .transactional(|ext| pay(ext, &p.beneficiary, p.value))
            .is_err()
        {
            missed = true;
            continue;
        }
        budget = budget.saturating_sub(p.value);
        PROPOSALS.remove(ext, &index);
        paid.push(index);
        ext.deposit_event(Event::Awarded {
            proposal_index: index,
            award: p.value,
            account: p.beneficiary,
        });
    }
    approvals.as_mut_vec().retain(|i| !paid.contains(i));
    APPROVALS.put(ext, &approvals);
    if !missed {
        let burn = params.burn.mul_floor(budget).min(budget);
        if burn > 0
            && ext
                .transactional(|ext| {
                    balances::withdraw(ext, &TREASURY_ACCOUNT, burn)?;
                    balances::burn_withdrawn(ext, burn)
                })
                .is_ok()
        {
            budget = budget.saturating_sub(burn);
            ext.deposit_event(Event::Burnt { burnt_funds: burn });
        }
    }
    ext.deposit_event(Event::Rollover {
        rollover_balance: budget,
    });
}

/// The block now, for spends.
fn now(ext: &Ext) -> BlockNumber {
    system::block_number(ext)
}

/// The module's constants with `params`' values.
pub fn constants(params: &Params) -> Vec<frame_metadata::v14::PalletConstantMetadata> {
    vec![
        crate::metadata::constant(
            "SpendPeriod",
            &params.spend_period,
            " Period between successive spends.",
        ),
        crate::metadata::constant(
            "Burn",
            &params.burn,
            " Percentage of spare funds (if any) that are burnt per spend period.",
        ),
        crate::metadata::constant(
            "PalletId",
            &PALLET_ID,
            " The treasury's pallet id, used for deriving its sovereign account ID.",
        ),
        crate::metadata::constant(
            "MaxApprovals",
            &MAX_APPROVALS,
            " The maximum number of approvals that can wait in the spending queue.",
        ),
        crate::metadata::constant(
            "PayoutPeriod",
            &params.payout_period,
            " The period during which an approved treasury spend has to be claimed.",
        ),
    ]
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Treasury",
        index: index::TREASURY,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: constants(&Params::default()),
        error: Some(scale_info::meta_type::<Error>()),
        docs: " The network's own PHA and the spends governance approves.",
    }
}
