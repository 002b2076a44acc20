use parity_scale_codec::{Decode, Encode};
use phala_primitives::Balance;
use phala_primitives::consensus::{MAX_COMMITTEE_SIZE, MIN_GOVERNED_COMMITTEE_SIZE};
use scale_info::TypeInfo;

use super::{
    CANDIDATES, Candidate, Error, Event, KEY_OWNER, LEDGER, Ledger, MAX_ADDRESS_LEN, MAX_UNLOCKING,
    Unlocking, add_candidate, check_possession, params, remove_candidate, update_lock,
};
use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::{balances, system, weights};

/// Calls of the `Validators` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Lock `value` more of the caller's free balance as bond.
    #[codec(index = 0)]
    bond {
        #[codec(compact)]
        value: Balance,
    },
    /// Start unlocking `value` of the bond; it can be withdrawn after the unbonding period.
    /// A candidate whose bond falls below the minimum stops standing for election.
    #[codec(index = 1)]
    unbond {
        #[codec(compact)]
        value: Balance,
    },
    /// Unlock every unbonded chunk whose period has passed.
    #[codec(index = 2)]
    withdraw_unbonded,
    /// Stand for election with an ed25519 consensus key, reachable by peers at `p2p_address`
    /// (`host:port`). `proof_of_possession` is the consensus key's ed25519 signature of
    /// `"phala/validators/consensus-key:" ‖ genesis hash ‖ the caller's account id`: only the
    /// key's holder can register it, and for one account on one chain.
    #[codec(index = 3)]
    validate {
        consensus_key: [u8; 32],
        p2p_address: Vec<u8>,
        proof_of_possession: [u8; 64],
    },
    /// Stop standing for election (from the next election on).
    #[codec(index = 4)]
    chill,
    /// Report a committee member's equivocation: two conflicting signed consensus messages.
    /// Submitted unsigned by any node that sees them; valid evidence slashes the offender once.
    #[codec(index = 5)]
    report_equivocation { evidence: Vec<u8> },
    /// Set how many validators the next elections seat (root, or a referendum on the
    /// parameters track): 4 to 128 (`MIN_GOVERNED_COMMITTEE_SIZE`, `MAX_COMMITTEE_SIZE`);
    /// fewer candidates seat fewer. The epoch under way keeps its
    /// committee; the election at its last block uses the new size.
    #[codec(index = 6)]
    set_committee_size { size: u32 },
    /// Set how many blocks each epoch lasts (root, or a referendum on the parameters
    /// track): 2 to 1,000,000, and on a live chain at most a sixteenth of the unbonding
    /// period. The epoch under way keeps its length; its last block announces the new one,
    /// which every epoch after it has.
    #[codec(index = 7)]
    set_epoch_length { length: u32 },
}

/// The runtime version that brought `set_epoch_length`: a chain still running an older one
/// has nodes that cannot execute it, and would fork on it.
pub const EPOCH_LENGTH_SINCE_SPEC_VERSION: u32 = 8;
/// Shortest epoch governance may set on a live chain: each epoch restarts consensus, and
/// equivocation evidence has 16 epochs to land.
pub const MIN_LIVE_EPOCH_LENGTH: u32 = 100;

fn set_epoch_length(ext: &mut Ext, length: u32) -> DispatchResult {
    use phala_primitives::consensus::{MAX_EPOCH_LENGTH, MAX_EPOCH_SEGMENTS, MIN_EPOCH_LENGTH};
    if system::active_spec_version(ext) < EPOCH_LENGTH_SINCE_SPEC_VERSION {
        return Err(Error::NeedsUpgrade.into());
    }
    if !(MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&length) {
        return Err(Error::BadEpochLength.into());
    }
    // Development chains (they have a sudo key, which a live chain's spec refuses and
    // nothing can add later) try lengths freely; a live chain keeps every punishable
    // offender's bond locked, and its consensus settled.
    let live = crate::modules::sudo::KEY.get(ext).is_none();
    if live && length < MIN_LIVE_EPOCH_LENGTH {
        return Err(Error::EpochTooShort.into());
    }
    let window = u64::from(length).saturating_mul(super::COMMITTEE_HISTORY);
    if live && window > u64::from(params(ext).unbonding_period) {
        return Err(Error::EpochOutlastsUnbonding.into());
    }
    if super::schedule(ext).is_some_and(|s| s.segments().len() >= MAX_EPOCH_SEGMENTS) {
        return Err(Error::TooManyEpochLengthChanges.into());
    }
    super::NEXT_EPOCH_LENGTH.put(ext, &length);
    ext.deposit_event(Event::EpochLengthSet { length });
    Ok(())
}

/// `host:port`, printable ASCII, bounded.
pub fn valid_address(address: &[u8]) -> bool {
    if address.is_empty() || address.len() > MAX_ADDRESS_LEN {
        return false;
    }
    let Ok(text) = std::str::from_utf8(address) else {
        return false;
    };
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::bond { .. } | Call::unbond { .. } | Call::withdraw_unbonded => {
                weights::reads_writes(4, 4)
            }
            Call::validate { .. } | Call::chill => weights::reads_writes(5, 4),
            Call::set_committee_size { .. } => weights::reads_writes(1, 1),
            Call::set_epoch_length { .. } => weights::reads_writes(3, 1),
            Call::report_equivocation { .. } => {
                // Two signature checks and the slash.
                return DispatchInfo {
                    weight: weights::add(
                        weights::reads_writes(8, 8),
                        weights::compute(300_000_000),
                    ),
                    class: DispatchClass::Operational,
                    pays_fee: Pays::No,
                };
            }
        };
        DispatchInfo {
            weight: weights::add(weight, weights::compute(20_000_000)),
            class: DispatchClass::Normal,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        if let Call::report_equivocation { evidence } = self {
            origin.ensure_none()?;
            let offence = super::check_evidence(ext, &evidence)?;
            return super::punish(ext, &offence);
        }
        if let Call::set_committee_size { size } = self {
            origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
            if !(MIN_GOVERNED_COMMITTEE_SIZE..=MAX_COMMITTEE_SIZE).contains(&size) {
                return Err(Error::BadCommitteeSize.into());
            }
            let mut p = params(ext);
            p.committee_size = size;
            super::PARAMS.put(ext, &p);
            ext.deposit_event(Event::CommitteeSizeSet { size });
            return Ok(());
        }
        if let Call::set_epoch_length { length } = self {
            origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
            return set_epoch_length(ext, length);
        }
        let who = origin.ensure_signed()?;
        let p = params(ext);
        match self {
            Call::bond { value } => {
                if value == 0 {
                    return Err(Error::ZeroAmount.into());
                }
                let mut ledger = LEDGER.get(ext, &who).unwrap_or_default();
                // The lock covers the whole ledger; it must fit in the free balance.
                let free = balances::free_balance(ext, &who);
                let new_total = ledger
                    .total()
                    .checked_add(value)
                    .ok_or(Error::InsufficientBalance)?;
                if new_total > free.saturating_sub(balances::EXISTENTIAL_DEPOSIT) {
                    return Err(Error::InsufficientBalance.into());
                }
                ledger.active = ledger.active.saturating_add(value);
                update_lock(ext, &who, &ledger)?;
                ext.deposit_event(Event::Bonded { who, amount: value });
            }
            Call::unbond { value } => {
                if value == 0 {
                    return Err(Error::ZeroAmount.into());
                }
                let mut ledger = LEDGER.get(ext, &who).ok_or(Error::NotBonded)?;
                if value > ledger.active {
                    return Err(Error::UnbondTooMuch.into());
                }
                if ledger.unlocking.len() >= MAX_UNLOCKING {
                    return Err(Error::TooManyUnlocking.into());
                }
                let at = system::block_number(ext).saturating_add(p.unbonding_period);
                ledger.active = ledger.active.saturating_sub(value);
                ledger.unlocking.push(Unlocking { value, at });
                if ledger.active < p.min_bond && remove_candidate(ext, &who) {
                    ext.deposit_event(Event::Chilled { who });
                }
                update_lock(ext, &who, &ledger)?;
                ext.deposit_event(Event::Unbonded {
                    who,
                    amount: value,
                    at,
                });
            }
            Call::withdraw_unbonded => {
                let mut ledger = LEDGER.get(ext, &who).ok_or(Error::NotBonded)?;
                let now = system::block_number(ext);
                let before = ledger.total();
                ledger.unlocking.retain(|u| u.at > now);
                let withdrawn = before.saturating_sub(ledger.total());
                update_lock(
                    ext,
                    &who,
                    &Ledger {
                        active: ledger.active,
                        unlocking: ledger.unlocking,
                    },
                )?;
                ext.deposit_event(Event::Withdrawn {
                    who,
                    amount: withdrawn,
                });
            }
            Call::validate {
                consensus_key,
                p2p_address,
                proof_of_possession,
            } => {
                let ledger = LEDGER.get(ext, &who).ok_or(Error::NotBonded)?;
                if ledger.active < p.min_bond.max(1) {
                    return Err(Error::BondTooSmall.into());
                }
                if KEY_OWNER
                    .get(ext, &consensus_key)
                    .is_some_and(|owner| owner != who)
                {
                    return Err(Error::KeyInUse.into());
                }
                if !valid_address(&p2p_address) {
                    return Err(Error::BadAddress.into());
                }
                check_possession(ext, &consensus_key, &who, &proof_of_possession)?;
                add_candidate(
                    ext,
                    &who,
                    Candidate {
                        consensus_key,
                        p2p_address,
                    },
                );
                ext.deposit_event(Event::Validating { who, consensus_key });
            }
            Call::chill => {
                if !CANDIDATES.contains(ext, &who) {
                    return Err(Error::NotCandidate.into());
                }
                remove_candidate(ext, &who);
                ext.deposit_event(Event::Chilled { who });
            }
            Call::report_equivocation { .. }
            | Call::set_committee_size { .. }
            | Call::set_epoch_length { .. } => {
                return Err(crate::dispatch::DispatchError::BadOrigin);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod address_tests {
    use super::valid_address;

    #[test]
    fn addresses() {
        assert!(valid_address(b"127.0.0.1:30333"));
        assert!(valid_address(b"node-1.example.org:30333"));
        assert!(valid_address(b"[::1]:30333"));
        assert!(!valid_address(b"127.0.0.1"));
        assert!(!valid_address(b"host:0"));
        assert!(!valid_address(b":30333"));
        assert!(!valid_address(b"bad host:1"));
        assert!(!valid_address(&[0xff, b':', b'1']));
    }
}
