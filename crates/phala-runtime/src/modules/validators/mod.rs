//! `Validators`: the gatekeepers that keep the chain, and how the committee that finalizes
//! each epoch is chosen.
//!
//! An account bonds PHA (a balance lock), registers an ed25519 consensus key and a p2p
//! address with `validate`, and becomes a candidate. At the last block of every epoch the top
//! `CommitteeSize` candidates by bond are elected for the next epoch; the block's header
//! announces them (`phala_primitives::consensus::CommitteeChange`) and they take over at the
//! epoch's first block. Governance may change the length of epochs (`set_epoch_length`): the
//! next boundary announces it (`EpochLengthChange`) and the epochs after it follow the
//! `EpochSchedule`. Unbonded PHA stays locked for `UnbondingPeriod` blocks, so stake that
//! misbehaved can still be slashed. Proven equivocation slashes `SlashPercent` of the bond to
//! the treasury and removes the offender from the candidates.

mod calls;
mod errors;
mod events;
#[cfg(test)]
mod tests;

pub use calls::{Call, valid_address};
pub use errors::Error;
pub use events::Event;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::DigestItem;
use phala_primitives::consensus::{
    CommitteeChange, EpochBounds, EpochLengthChange, EpochSchedule, EpochSegment,
};
use phala_primitives::{AccountId32, Balance, BlockNumber, H256, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchResult};
use crate::modules::{TREASURY_ACCOUNT, balances, system};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Validators";

/// The balance lock holding bonded (and unbonding) PHA.
pub const LOCK_ID: [u8; 8] = *b"validatr";
/// Longest p2p address accepted (`host:port`).
pub const MAX_ADDRESS_LEN: usize = 128;
/// Unbonding chunks one account may have in flight.
pub const MAX_UNLOCKING: usize = 32;
/// Committees kept in state for verifying late evidence and for nodes catching up.
pub const COMMITTEE_HISTORY: u64 = 16;

/// Chain parameters of the module, set at genesis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Params {
    /// Blocks per epoch at genesis (`EpochSchedule` holds later changes).
    pub epoch_length: u32,
    /// Validators per committee.
    pub committee_size: u32,
    /// Blocks unbonded PHA stays locked.
    pub unbonding_period: u32,
    /// Share of the bond an equivocation costs, in percent.
    pub slash_percent: u8,
    /// Smallest bond a candidate may have.
    pub min_bond: Balance,
}

/// Bonded PHA of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Ledger {
    /// Bond that counts for elections.
    pub active: Balance,
    /// Unbonded PHA and the block from which it can be withdrawn.
    pub unlocking: Vec<Unlocking>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Unlocking {
    pub value: Balance,
    pub at: BlockNumber,
}

impl Ledger {
    pub fn total(&self) -> Balance {
        self.unlocking
            .iter()
            .fold(self.active, |acc, u| acc.saturating_add(u.value))
    }
}

/// A validator's registration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Candidate {
    pub consensus_key: [u8; 32],
    /// Where peers reach it: `host:port`.
    pub p2p_address: Vec<u8>,
}

/// A committee seat.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Member {
    pub account: AccountId32,
    pub consensus_key: [u8; 32],
    pub p2p_address: Vec<u8>,
}

pub const PARAMS: StorageValue<Params> = StorageValue::new(
    MODULE,
    "Params",
    Query::Default,
    &[" Epoch length, committee size, unbonding period, slash share, minimum bond."],
);
pub const LEDGER: StorageMap<AccountId32, Ledger> = StorageMap::new(
    MODULE,
    "Ledger",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Bonded and unbonding PHA per account."],
);
pub const CANDIDATES: StorageMap<AccountId32, Candidate> = StorageMap::new(
    MODULE,
    "Candidates",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Accounts standing for election, with their consensus key and p2p address."],
);
pub const KEY_OWNER: StorageMap<[u8; 32], AccountId32> = StorageMap::new(
    MODULE,
    "KeyOwner",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Which account registered each consensus key."],
);
/// Every candidate, so elections can enumerate them without iterating storage.
pub const CANDIDATE_LIST: StorageValue<Vec<AccountId32>> = StorageValue::new(
    MODULE,
    "CandidateList",
    Query::Default,
    &[" All candidates, sorted by account."],
);
pub const COMMITTEES: StorageMap<u64, Vec<Member>> = StorageMap::new(
    MODULE,
    "Committees",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" The committee of each recent epoch (and of the next one, once elected)."],
);
/// Absent until the first change: every epoch then has the genesis length.
pub const EPOCH_SCHEDULE: StorageValue<Vec<EpochSegment>> = StorageValue::new(
    MODULE,
    "EpochSchedule",
    Query::Optional,
    &[
        " Runs of equal-length epochs, oldest first: each starts at `first_epoch` (block",
        " `first_block`) with epochs of `length` blocks. Absent: the genesis length throughout.",
    ],
);
pub const NEXT_EPOCH_LENGTH: StorageValue<u32> = StorageValue::new(
    MODULE,
    "NextEpochLength",
    Query::Optional,
    &[" A length set by governance, taken up at the current epoch's last block."],
);
pub const OFFENCES: StorageMap<[u8; 32], ()> = StorageMap::new(
    MODULE,
    "Offences",
    Hasher::Identity,
    Query::Optional,
    &[" Equivocations already punished, by offence id."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        PARAMS.metadata(),
        LEDGER.metadata(),
        CANDIDATES.metadata(),
        KEY_OWNER.metadata(),
        CANDIDATE_LIST.metadata(),
        COMMITTEES.metadata(),
        OFFENCES.metadata(),
        EPOCH_SCHEDULE.metadata(),
        NEXT_EPOCH_LENGTH.metadata(),
    ]
}

/// Which blocks each epoch holds; `None` on a state without epochs (a genesis length of 0,
/// which only unit tests of other modules build). A stored schedule that fails its checks
/// cannot come from this runtime: the block is poisoned (the node stops on it) rather than
/// read with boundaries that light clients, which follow the headers, would not share.
pub fn schedule(ext: &Ext) -> Option<EpochSchedule> {
    let genesis = params(ext).epoch_length;
    if let Some(segments) = EPOCH_SCHEDULE.get(ext) {
        return match EpochSchedule::from_segments(segments) {
            Ok(schedule) => Some(schedule),
            Err(e) => {
                ext.poison(format!("Validators.EpochSchedule is invalid: {e}"));
                None
            }
        };
    }
    (genesis > 0).then(|| EpochSchedule::fixed(genesis))
}

/// The epoch block `number` belongs to.
pub fn epoch_bounds(ext: &Ext, number: BlockNumber) -> Option<EpochBounds> {
    schedule(ext)?.containing(number)
}

pub fn params(ext: &Ext) -> Params {
    PARAMS.get_or_default(ext)
}

/// The committee of `epoch`, if known.
pub fn committee(ext: &Ext, epoch: u64) -> Option<Vec<Member>> {
    COMMITTEES.get(ext, &epoch)
}

/// Re-locks exactly what the ledger holds.
fn update_lock(ext: &mut Ext, who: &AccountId32, ledger: &Ledger) -> DispatchResult {
    let total = ledger.total();
    if total == 0 {
        balances::remove_lock(ext, LOCK_ID, who);
        LEDGER.remove(ext, who);
        Ok(())
    } else {
        balances::set_lock(ext, LOCK_ID, who, total)?;
        LEDGER.insert(ext, who, ledger);
        Ok(())
    }
}

fn add_candidate(ext: &mut Ext, who: &AccountId32, candidate: Candidate) {
    if let Some(old) = CANDIDATES.get(ext, who) {
        KEY_OWNER.remove(ext, &old.consensus_key);
    }
    KEY_OWNER.insert(ext, &candidate.consensus_key, who);
    CANDIDATES.insert(ext, who, &candidate);
    let mut list = CANDIDATE_LIST.get_or_default(ext);
    if let Err(pos) = list.binary_search(who) {
        list.insert(pos, *who);
        CANDIDATE_LIST.put(ext, &list);
    }
}

/// Withdraws `who` from elections. Returns whether it was a candidate.
fn remove_candidate(ext: &mut Ext, who: &AccountId32) -> bool {
    let Some(old) = CANDIDATES.get(ext, who) else {
        return false;
    };
    KEY_OWNER.remove(ext, &old.consensus_key);
    CANDIDATES.remove(ext, who);
    let mut list = CANDIDATE_LIST.get_or_default(ext);
    if let Ok(pos) = list.binary_search(who) {
        list.remove(pos);
        CANDIDATE_LIST.put(ext, &list);
    }
    true
}

/// The next committee: the `size` candidates with the largest active bonds (ties broken by
/// account id), or the current committee if nobody stands.
fn elect(ext: &Ext, size: u32, fallback: Vec<Member>) -> Vec<Member> {
    let mut ranked: Vec<(Balance, Member)> = CANDIDATE_LIST
        .get_or_default(ext)
        .into_iter()
        .filter_map(|account| {
            let candidate = CANDIDATES.get(ext, &account)?;
            let bond = LEDGER.get(ext, &account)?.active;
            Some((
                bond,
                Member {
                    account,
                    consensus_key: candidate.consensus_key,
                    p2p_address: candidate.p2p_address,
                },
            ))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.account.cmp(&b.1.account)));
    let elected: Vec<Member> = ranked
        .into_iter()
        .take(size as usize)
        .map(|(_, m)| m)
        .collect();
    if elected.is_empty() {
        fallback
    } else {
        elected
    }
}

/// Block start: the first block of an epoch switches nothing in state (committees are kept by
/// epoch), but drops committees too old to matter.
pub fn on_initialize(ext: &mut Ext, number: BlockNumber) {
    let Some(bounds) = epoch_bounds(ext, number) else {
        return;
    };
    if bounds.first != number {
        return;
    }
    if let Some(old) = bounds.epoch.checked_sub(COMMITTEE_HISTORY) {
        COMMITTEES.remove(ext, &old);
    }
}

/// What the last block of an epoch announces in its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochEnd {
    pub committee: CommitteeChange,
    /// Only when the next epoch's length differs from this one's.
    pub length: Option<EpochLengthChange>,
}

impl EpochEnd {
    pub fn digest(&self) -> Vec<DigestItem> {
        let mut items = vec![self.committee.digest_item()];
        items.extend(self.length.map(|l| l.digest_item()));
        items
    }
}

/// Block end: the last block of an epoch elects the next committee, takes up a length set
/// by governance, and returns what the header must announce.
pub fn on_finalize(ext: &mut Ext, number: BlockNumber) -> Option<EpochEnd> {
    let p = params(ext);
    let mut schedule = schedule(ext)?;
    let bounds = schedule.containing(number)?;
    if bounds.last != number {
        return None;
    }
    let next = bounds.epoch.saturating_add(1);
    let current = committee(ext, bounds.epoch).unwrap_or_default();
    let elected = elect(ext, p.committee_size, current);
    COMMITTEES.insert(ext, &next, &elected);
    let keys: Vec<[u8; 32]> = elected.iter().map(|m| m.consensus_key).collect();
    ext.deposit_event(Event::NewCommittee {
        epoch: next,
        members: elected.iter().map(|m| m.account).collect(),
    });
    let mut length = None;
    if let Some(new) = NEXT_EPOCH_LENGTH.take(ext) {
        let before = schedule.current_length();
        // Checked when set, and the schedule only grows here: a refusal leaves the length
        // as it was rather than halting the chain at its boundary.
        if new != before && schedule.change(next, new).is_ok() {
            EPOCH_SCHEDULE.put(ext, &schedule.segments().to_vec());
            ext.deposit_event(Event::EpochLengthChanged {
                epoch: next,
                length: new,
            });
            length = Some(EpochLengthChange {
                epoch: next,
                length: new,
            });
        }
    }
    Some(EpochEnd {
        committee: CommitteeChange { epoch: next, keys },
        length,
    })
}

/// Proven equivocation: who, by which key, in which epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offence {
    /// The account that held the seat in that epoch's committee.
    pub offender: AccountId32,
    pub consensus_key: [u8; 32],
    pub epoch: u64,
    /// Identifies the offence, so it is punished once.
    pub id: [u8; 32],
}

/// Checks equivocation evidence against the committee of the epoch it claims, under the
/// chain's namespace (derived from the genesis hash, which `System.BlockHash(0)` holds from
/// block 1 on). The offender is the account that held the key's seat in that epoch's
/// committee: keys change hands (a validator rotates its key, someone registers the old one),
/// the committee record of the epoch does not.
pub fn check_evidence(ext: &Ext, evidence: &[u8]) -> Result<Offence, Error> {
    use phala_light_client::evidence;
    let epoch = evidence::claimed_epoch(evidence).map_err(|_| Error::InvalidEvidence)?;
    let members = committee(ext, epoch).ok_or(Error::InvalidEvidence)?;
    let keys: Vec<[u8; 32]> = members.iter().map(|m| m.consensus_key).collect();
    let genesis = system::block_hash(ext, 0).ok_or(Error::InvalidEvidence)?;
    let namespace = phala_light_client::namespace(&genesis);
    let offence =
        evidence::verify(&namespace, &keys, evidence).map_err(|_| Error::InvalidEvidence)?;
    let id = offence.id();
    if OFFENCES.contains(ext, &id) {
        return Err(Error::AlreadyReported);
    }
    let offender = members
        .iter()
        .find(|m| m.consensus_key == offence.offender)
        .map(|m| m.account)
        .ok_or(Error::UnknownOffender)?;
    Ok(Offence {
        offender,
        consensus_key: offence.offender,
        epoch,
        id,
    })
}

/// Moves as much of `remaining` as `from` holds out of both.
fn take_from(from: &mut Balance, remaining: &mut Balance) -> Result<(), ArithmeticError> {
    let cut = (*remaining).min(*from);
    *from = from.checked_sub(cut).ok_or(ArithmeticError::Underflow)?;
    *remaining = remaining
        .checked_sub(cut)
        .ok_or(ArithmeticError::Underflow)?;
    Ok(())
}

/// Punishes a proven equivocation: slashes the offender's bond to the treasury and
/// withdraws its candidacy, once per offence. Every step is checked; a failure undoes the
/// whole punishment (dispatch is transactional), so nothing is slashed halfway.
pub fn punish(ext: &mut Ext, offence: &Offence) -> DispatchResult {
    slash_bond(ext, &offence.offender, offence.id)?;
    remove_candidate(ext, &offence.offender);
    Ok(())
}

/// Slashes `SlashPercent` of `offender`'s bond (active first, then unbonding chunks) to the
/// treasury for the offence `offence_id`, once: the offence is recorded, and a second call
/// with it is refused. Returns what was slashed (nothing if the account has no bond). Used
/// for consensus equivocation and for other proven faults of a validator's gatekeeper.
pub fn slash_bond(
    ext: &mut Ext,
    offender: &AccountId32,
    offence_id: [u8; 32],
) -> Result<Balance, crate::dispatch::DispatchError> {
    if OFFENCES.contains(ext, &offence_id) {
        return Err(Error::AlreadyReported.into());
    }
    let mut ledger = LEDGER.get(ext, offender).unwrap_or_default();
    let percent = Balance::from(params(ext).slash_percent.min(100));
    let penalty = ledger
        .total()
        .checked_mul(percent)
        .and_then(|p| p.checked_div(100))
        .ok_or(ArithmeticError::Overflow)?;
    OFFENCES.insert(ext, &offence_id, &());
    let slashed = balances::slash(ext, offender, penalty);
    let mut remaining = slashed;
    take_from(&mut ledger.active, &mut remaining)?;
    for chunk in ledger.unlocking.iter_mut() {
        take_from(&mut chunk.value, &mut remaining)?;
    }
    ledger.unlocking.retain(|c| c.value > 0);
    if slashed > 0
        && ext
            .transactional(|ext| balances::deposit(ext, &TREASURY_ACCOUNT, slashed))
            .is_err()
    {
        // The treasury cannot take it: burn it, so issuance still matches balances.
        balances::burn_withdrawn(ext, slashed)?;
    }
    update_lock(ext, offender, &ledger)?;
    ext.deposit_event(Event::Slashed {
        who: *offender,
        amount: slashed,
    });
    Ok(slashed)
}

/// Domain of the proof of possession a consensus key signs when it stands for election.
pub const POSSESSION_DOMAIN: &[u8] = b"phala/validators/consensus-key:";

/// What a consensus key signs (plain ed25519) to prove its holder registers it for
/// `account` on this chain: [`POSSESSION_DOMAIN`] ‖ genesis hash ‖ account id.
pub fn possession_payload(genesis: &H256, account: &AccountId32) -> Vec<u8> {
    let mut payload = POSSESSION_DOMAIN.to_vec();
    payload.extend_from_slice(genesis.as_bytes());
    payload.extend_from_slice(&account.0);
    payload
}

/// Whether `key` is an ed25519 public key fit for a committee: a canonical encoding of a
/// curve point that is not of small order, which the consensus engine and light clients
/// accept. A key that fails this would, once elected, halt every light client at the epoch
/// boundary.
pub fn valid_consensus_key(key: &[u8; 32]) -> bool {
    let Ok(point) = ed25519_dalek::VerifyingKey::from_bytes(key) else {
        return false;
    };
    !point.is_weak()
        && point.to_edwards().compress().to_bytes() == *key
        && phala_light_client::is_committee_key(key)
}

/// Checks that `proof` is `key`'s signature over [`possession_payload`] for `account`.
fn check_possession(
    ext: &Ext,
    key: &[u8; 32],
    account: &AccountId32,
    proof: &[u8; 64],
) -> Result<(), Error> {
    if !valid_consensus_key(key) {
        return Err(Error::InvalidConsensusKey);
    }
    let genesis = system::block_hash(ext, 0).ok_or(Error::BadProofOfPossession)?;
    let point =
        ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| Error::InvalidConsensusKey)?;
    let signature = ed25519_dalek::Signature::from_bytes(proof);
    point
        .verify_strict(&possession_payload(&genesis, account), &signature)
        .map_err(|_| Error::BadProofOfPossession)
}

fn hex_key(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Genesis: bonds, candidacies and the epoch-0 committee.
pub(crate) fn build_genesis(
    ext: &mut Ext,
    params: Params,
    validators: &[(AccountId32, [u8; 32], Vec<u8>, Balance)],
) -> Result<(), String> {
    PARAMS.put(ext, &params);
    for (account, key, address, bond) in validators {
        if !valid_address(address) {
            return Err(format!(
                "{account}'s p2p address {:?} is not host:port",
                String::from_utf8_lossy(address)
            ));
        }
        if KEY_OWNER.contains(ext, key) {
            return Err(format!("consensus key 0x{} is used twice", hex_key(key)));
        }
        if !valid_consensus_key(key) {
            return Err(format!(
                "consensus key 0x{} of {account} is not a valid ed25519 public key",
                hex_key(key)
            ));
        }
        let ledger = Ledger {
            active: *bond,
            unlocking: Vec::new(),
        };
        update_lock(ext, account, &ledger).map_err(|e| format!("cannot bond {account}: {e:?}"))?;
        add_candidate(
            ext,
            account,
            Candidate {
                consensus_key: *key,
                p2p_address: address.clone(),
            },
        );
    }
    let committee = elect(ext, params.committee_size, Vec::new());
    if committee.is_empty() {
        return Err("the genesis committee is empty".into());
    }
    COMMITTEES.insert(ext, &0, &committee);
    Ok(())
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Validators",
        index: crate::modules::index::VALIDATORS,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Gatekeeper validators: bonds, candidacies, elected committees and slashing.",
    }
}
