use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, MultiAddress};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchError, DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::weights;

/// Calls of the `Balances` module (FRAME's call indices).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Transfer some liquid free balance to another account. The sender may be reaped if
    /// the transfer leaves it below the existential deposit.
    #[codec(index = 0)]
    transfer_allow_death {
        dest: MultiAddress,
        #[codec(compact)]
        value: Balance,
    },
    /// Same as `transfer_allow_death`, but fails rather than reap the sender.
    #[codec(index = 3)]
    transfer_keep_alive {
        dest: MultiAddress,
        #[codec(compact)]
        value: Balance,
    },
    /// Transfer the entire transferable balance from the caller account. With `keep_alive`
    /// the sender keeps the existential deposit.
    #[codec(index = 4)]
    transfer_all {
        dest: MultiAddress,
        keep_alive: bool,
    },
}

fn lookup(dest: &MultiAddress) -> Result<AccountId32, DispatchError> {
    dest.account().ok_or(DispatchError::CannotLookup)
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::transfer_allow_death { .. } | Call::transfer_keep_alive { .. } => {
                weights::add(weights::reads_writes(2, 2), weights::compute(15_000_000))
            }
            Call::transfer_all { .. } => {
                weights::add(weights::reads_writes(3, 2), weights::compute(15_000_000))
            }
        };
        DispatchInfo {
            weight,
            class: DispatchClass::Normal,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        let who = origin.ensure_signed()?;
        match self {
            Call::transfer_allow_death { dest, value } => {
                super::transfer(ext, &who, &lookup(&dest)?, value, false)
            }
            Call::transfer_keep_alive { dest, value } => {
                super::transfer(ext, &who, &lookup(&dest)?, value, true)
            }
            Call::transfer_all { dest, keep_alive } => {
                let dest = lookup(&dest)?;
                let amount = super::reducible_balance(ext, &who, keep_alive);
                super::transfer(ext, &who, &dest, amount, keep_alive)
            }
        }
    }
}
