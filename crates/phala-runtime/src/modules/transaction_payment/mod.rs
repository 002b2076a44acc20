//! `TransactionPayment`: what a transaction costs and where the fee goes.
//!
//! fee = base fee (the weight every extrinsic costs) + length fee (per byte) + weight fee (the
//! call's weight) + tip. The fee is withdrawn before the call runs — so a failing call still
//! pays — and deposited in the treasury account. The fee multiplier stays at 1: blocks are
//! far from full at this chain's load, and a multiplier that never moves is easier for users
//! to predict than one that does.

mod events;

pub use events::Event;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, Weight};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchInfo, DispatchResult, Pays};
use crate::modules::{TREASURY_ACCOUNT, balances, weights};
use crate::storage::{Query, StorageValue};

const MODULE: &str = "TransactionPayment";

/// Planck per byte of extrinsic: 10^-6 PHA.
pub const TRANSACTION_BYTE_FEE: Balance = 1_000_000;
/// Planck per unit of `ref_time` (a picosecond): a transfer's ~0.25 ms costs ~0.0025 PHA.
pub const WEIGHT_FEE_PER_REF_TIME: Balance = 10;
/// Operational transactions' fee multiplier for priority (reported in metadata).
pub const OPERATIONAL_FEE_MULTIPLIER: u8 = 5;
/// `FixedU128` one.
pub const MULTIPLIER_ONE: u128 = 1_000_000_000_000_000_000;

pub const NEXT_FEE_MULTIPLIER: StorageValue<u128> = StorageValue::new(
    MODULE,
    "NextFeeMultiplier",
    Query::Default,
    &[" The fee multiplier, as a FixedU128."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![NEXT_FEE_MULTIPLIER.metadata()]
}

/// `pallet_transaction_payment::types::InclusionFee`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct InclusionFee {
    pub base_fee: Balance,
    pub len_fee: Balance,
    pub adjusted_weight_fee: Balance,
}

/// `pallet_transaction_payment::types::FeeDetails`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FeeDetails {
    pub inclusion_fee: Option<InclusionFee>,
    pub tip: Balance,
}

impl FeeDetails {
    pub fn final_fee(&self) -> Balance {
        let inclusion = self
            .inclusion_fee
            .map(|f| {
                f.base_fee
                    .saturating_add(f.len_fee)
                    .saturating_add(f.adjusted_weight_fee)
            })
            .unwrap_or(0);
        inclusion.saturating_add(self.tip)
    }
}

/// `pallet_transaction_payment::types::RuntimeDispatchInfo` — what `payment_queryInfo` and
/// `TransactionPaymentApi_query_info` return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RuntimeDispatchInfo {
    pub weight: Weight,
    pub class: DispatchClass,
    pub partial_fee: Balance,
}

pub fn weight_to_fee(weight: Weight) -> Balance {
    Balance::from(weight.ref_time).saturating_mul(WEIGHT_FEE_PER_REF_TIME)
}

/// The fee of an extrinsic of `len` bytes whose call has `info`, plus `tip`.
pub fn compute_fee_details(len: usize, info: &DispatchInfo, tip: Balance) -> FeeDetails {
    if info.pays_fee == Pays::No {
        return FeeDetails {
            inclusion_fee: None,
            tip,
        };
    }
    let len = Balance::try_from(len).unwrap_or(Balance::MAX);
    FeeDetails {
        inclusion_fee: Some(InclusionFee {
            base_fee: weight_to_fee(weights::EXTRINSIC_BASE),
            len_fee: len.saturating_mul(TRANSACTION_BYTE_FEE),
            adjusted_weight_fee: weight_to_fee(info.weight),
        }),
        tip,
    }
}

pub fn compute_fee(len: usize, info: &DispatchInfo, tip: Balance) -> Balance {
    compute_fee_details(len, info, tip).final_fee()
}

/// Takes the fee before dispatch.
pub fn withdraw_fee(ext: &mut Ext, who: &AccountId32, fee: Balance) -> DispatchResult {
    balances::withdraw(ext, who, fee)
}

/// Pays a withdrawn fee to the treasury and reports it. If the treasury cannot take it (it
/// does not exist and the fee is below the existential deposit) the fee is burned instead,
/// so issuance always matches the sum of balances.
pub fn settle_fee(ext: &mut Ext, who: &AccountId32, fee: Balance, tip: Balance) -> DispatchResult {
    if fee > 0
        && ext
            .transactional(|ext| balances::deposit(ext, &TREASURY_ACCOUNT, fee))
            .is_err()
    {
        balances::burn_withdrawn(ext, fee)?;
    }
    ext.deposit_event(Event::TransactionFeePaid {
        who: *who,
        actual_fee: fee,
        tip,
    });
    Ok(())
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "TransactionPayment",
        index: crate::modules::index::TRANSACTION_PAYMENT,
        storage: storage_metadata(),
        calls: None,
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![crate::metadata::constant(
            "OperationalFeeMultiplier",
            &OPERATIONAL_FEE_MULTIPLIER,
            " A fee multiplier for `Operational` extrinsics to compute \"virtual tip\" to boost their `priority`.",
        )],
        error: None,
        docs: " Transaction fees.",
    }
}
