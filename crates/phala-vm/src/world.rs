//! What one execution sees and changes: the committed cluster state behind [`Backend`], and
//! a journaled [`Overlay`] of changes that a reverting or trapping frame rolls back to its
//! checkpoint, so a failed nested call leaves no trace while its caller carries on.

use std::collections::BTreeMap;
use std::sync::Arc;

use parity_scale_codec::{Decode, Encode};

/// A contract's or an account's 32-byte id.
pub type AccountId = [u8; 32];
/// blake2b-256 of a contract's code.
pub type CodeHash = [u8; 32];

/// What the cluster records about an instantiated contract.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractInfo {
    pub code_hash: CodeHash,
    /// The account (or contract) that instantiated it.
    pub deployer: AccountId,
}

/// Committed cluster state, read-only during an execution. The worker implements it over its
/// sealed store; tests over a map.
pub trait Backend: Send {
    fn storage(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>>;
    fn contract(&self, contract: &AccountId) -> Option<ContractInfo>;
    /// The wasm of an uploaded code, already validated at upload.
    fn code(&self, code_hash: &CodeHash) -> Option<Arc<[u8]>>;
}

/// An event a contract deposited, in the order deposited.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractEvent {
    pub contract: AccountId,
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
}

/// A cache operation a command asked for. Commands cannot read the worker-local cache (it
/// differs between workers); their writes are applied after the command commits.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CacheOp {
    Set { key: Vec<u8>, value: Vec<u8> },
    SetExpiration { key: Vec<u8>, expire_secs: u64 },
    Remove { key: Vec<u8> },
}

/// Everything a successful, non-reverted execution changed, to be applied atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// `None` deletes the entry.
    pub storage: BTreeMap<(AccountId, Vec<u8>), Option<Vec<u8>>>,
    /// New or changed contracts; `None` is a terminated contract, whose storage must go too.
    pub contracts: BTreeMap<AccountId, Option<ContractInfo>>,
    /// Where each terminated contract's balance and deposits go (only for contracts that are
    /// `None` in `contracts`: a termination rolled back leaves a stale entry, dropped at the end).
    pub terminated_to: BTreeMap<AccountId, AccountId>,
    pub cache_ops: Vec<(AccountId, CacheOp)>,
    /// Messages for contracts on other chains (`xcm_send`), each with its sender, in order:
    /// the chain sends them when it settles the command.
    pub sent: Vec<(AccountId, crate::xcm::BridgeMessage)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
            && self.contracts.is_empty()
            && self.cache_ops.is_empty()
            && self.sent.is_empty()
    }
}

enum Undo {
    Storage {
        key: (AccountId, Vec<u8>),
        previous: Option<Option<Vec<u8>>>,
    },
    Contract {
        id: AccountId,
        previous: Option<Option<ContractInfo>>,
    },
}

/// A point to roll back to.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint {
    journal: usize,
    events: usize,
    cache_ops: usize,
    sent: usize,
}

/// Most bytes of changes, undo records, events and cache operations one execution may hold:
/// gas alone would let a cheap loop keep gigabytes in every worker's memory.
pub const MAX_EXECUTION_BYTES: usize = 8 * 1024 * 1024;
/// Most messages for other chains one execution may send.
pub const MAX_SENT: usize = 8;
/// Most bytes of calls those messages may carry together: with the rest of a report (its
/// sealed output and effects), the report must fit one queue message.
pub const MAX_SENT_BYTES: usize = 16 * 1024;
/// What each record costs on top of its bytes, for the bookkeeping around it.
const RECORD_OVERHEAD: usize = 64;

/// An execution tried to hold more than [`MAX_EXECUTION_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the execution holds more than {MAX_EXECUTION_BYTES} bytes of changes and events")]
pub struct TooMuchState;

/// Changes made so far in this execution, over the backend.
pub struct Overlay {
    backend: Box<dyn Backend>,
    changes: Changes,
    events: Vec<ContractEvent>,
    journal: Vec<Undo>,
    /// Bytes recorded so far; never decreases, so it bounds the peak.
    bytes: usize,
}

impl Overlay {
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self {
            backend,
            changes: Changes::default(),
            events: Vec::new(),
            journal: Vec::new(),
            bytes: 0,
        }
    }

    fn account(&mut self, bytes: usize) -> Result<(), TooMuchState> {
        let total = self
            .bytes
            .saturating_add(bytes)
            .saturating_add(RECORD_OVERHEAD);
        if total > MAX_EXECUTION_BYTES {
            return Err(TooMuchState);
        }
        self.bytes = total;
        Ok(())
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            journal: self.journal.len(),
            events: self.events.len(),
            cache_ops: self.changes.cache_ops.len(),
            sent: self.changes.sent.len(),
        }
    }

    /// Undoes everything recorded after `to`.
    pub fn rollback(&mut self, to: Checkpoint) {
        while self.journal.len() > to.journal {
            match self.journal.pop() {
                Some(Undo::Storage { key, previous }) => match previous {
                    Some(value) => {
                        self.changes.storage.insert(key, value);
                    }
                    None => {
                        self.changes.storage.remove(&key);
                    }
                },
                Some(Undo::Contract { id, previous }) => match previous {
                    Some(info) => {
                        self.changes.contracts.insert(id, info);
                    }
                    None => {
                        self.changes.contracts.remove(&id);
                    }
                },
                None => break,
            }
        }
        self.events.truncate(to.events);
        self.changes.cache_ops.truncate(to.cache_ops);
        self.changes.sent.truncate(to.sent);
    }

    pub fn contract(&self, id: &AccountId) -> Option<ContractInfo> {
        match self.changes.contracts.get(id) {
            Some(info) => info.clone(),
            None => self.backend.contract(id),
        }
    }

    pub fn code(&self, code_hash: &CodeHash) -> Option<Arc<[u8]>> {
        self.backend.code(code_hash)
    }

    pub fn get(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        // A contract terminated in this execution has no storage, whatever the backend says.
        if matches!(self.changes.contracts.get(contract), Some(None)) {
            return None;
        }
        match self.changes.storage.get(&(*contract, key.to_vec())) {
            Some(value) => value.clone(),
            None => self.backend.storage(contract, key),
        }
    }

    /// Writes (or with `None` deletes) an entry and returns the previous value.
    pub fn set(
        &mut self,
        contract: &AccountId,
        key: &[u8],
        value: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, TooMuchState> {
        let old = self.get(contract, key);
        // The new value, and the old one kept for undo.
        self.account(
            key.len()
                .saturating_mul(2)
                .saturating_add(value.as_ref().map_or(0, Vec::len))
                .saturating_add(old.as_ref().map_or(0, Vec::len)),
        )?;
        let entry = (*contract, key.to_vec());
        let previous = self.changes.storage.insert(entry.clone(), value);
        self.journal.push(Undo::Storage {
            key: entry,
            previous,
        });
        Ok(old)
    }

    pub fn set_contract(&mut self, id: AccountId, info: Option<ContractInfo>) {
        let previous = self.changes.contracts.insert(id, info);
        self.journal.push(Undo::Contract { id, previous });
    }

    /// Terminates `id` in favour of `beneficiary`.
    pub fn terminate(&mut self, id: AccountId, beneficiary: AccountId) {
        self.set_contract(id, None);
        // The latest termination wins; one rolled back is filtered out in `finish`.
        self.changes.terminated_to.insert(id, beneficiary);
    }

    pub fn deposit_event(&mut self, event: ContractEvent) -> Result<(), TooMuchState> {
        self.account(
            event
                .data
                .len()
                .saturating_add(event.topics.len().saturating_mul(32)),
        )?;
        self.events.push(event);
        Ok(())
    }

    pub fn cache_op(&mut self, contract: AccountId, op: CacheOp) -> Result<(), TooMuchState> {
        let bytes = match &op {
            CacheOp::Set { key, value } => key.len().saturating_add(value.len()),
            CacheOp::SetExpiration { key, .. } | CacheOp::Remove { key } => key.len(),
        };
        self.account(bytes)?;
        self.changes.cache_ops.push((contract, op));
        Ok(())
    }

    /// Records a message for another chain; at most [`MAX_SENT`] per execution.
    pub fn send(
        &mut self,
        sender: AccountId,
        message: crate::xcm::BridgeMessage,
    ) -> Result<(), TooMuchState> {
        let bytes: usize = self
            .changes
            .sent
            .iter()
            .map(|(_, m)| m.call.len())
            .fold(message.call.len(), usize::saturating_add);
        if self.changes.sent.len() >= MAX_SENT || bytes > MAX_SENT_BYTES {
            return Err(TooMuchState);
        }
        self.account(message.call.len().saturating_add(64))?;
        self.changes.sent.push((sender, message));
        Ok(())
    }

    /// Whether `id` was terminated earlier in this execution: its address stays taken
    /// until the execution is committed (a new contract there would see the old storage).
    pub fn terminated(&self, id: &AccountId) -> bool {
        matches!(self.changes.contracts.get(id), Some(None))
    }

    /// Ends the execution: the changes and events that survived.
    pub fn finish(self) -> (Changes, Vec<ContractEvent>) {
        let mut changes = self.changes;
        // Entries of contracts terminated later in the execution are dropped: the worker
        // deletes the contract's whole storage anyway.
        let terminated: std::collections::BTreeSet<AccountId> = changes
            .contracts
            .iter()
            .filter(|(_, info)| info.is_none())
            .map(|(id, _)| *id)
            .collect();
        changes
            .storage
            .retain(|(contract, _), _| !terminated.contains(contract));
        changes
            .terminated_to
            .retain(|contract, _| terminated.contains(contract));
        (changes, self.events)
    }
}

/// A [`Backend`] over maps, for tests, benches and tools.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    pub storage: BTreeMap<(AccountId, Vec<u8>), Vec<u8>>,
    pub contracts: BTreeMap<AccountId, ContractInfo>,
    pub codes: BTreeMap<CodeHash, Arc<[u8]>>,
}

impl MemoryBackend {
    /// Adds a code under its hash and returns the hash.
    pub fn add_code(&mut self, wasm: &[u8]) -> CodeHash {
        let hash = sp_crypto_hashing::blake2_256(wasm);
        self.codes.insert(hash, Arc::from(wasm));
        hash
    }

    /// Applies an execution's changes (cache operations are the worker's business).
    pub fn apply(&mut self, changes: &Changes) {
        apply_changes(&mut self.contracts, &mut self.storage, changes);
    }
}

/// Applies an execution's contract and storage changes to committed maps: what every
/// backend's owner does after a successful execution. A terminated contract's storage goes
/// with it, found by range since a contract's entries are contiguous.
pub fn apply_changes(
    contracts: &mut BTreeMap<AccountId, ContractInfo>,
    storage: &mut BTreeMap<(AccountId, Vec<u8>), Vec<u8>>,
    changes: &Changes,
) {
    for (id, info) in &changes.contracts {
        match info {
            Some(info) => {
                contracts.insert(*id, info.clone());
            }
            None => {
                contracts.remove(id);
                let keys: Vec<(AccountId, Vec<u8>)> = storage
                    .range((*id, Vec::new())..)
                    .take_while(|((contract, _), _)| contract == id)
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in keys {
                    storage.remove(&key);
                }
            }
        }
    }
    for ((contract, key), value) in &changes.storage {
        match value {
            Some(value) => {
                storage.insert((*contract, key.clone()), value.clone());
            }
            None => {
                storage.remove(&(*contract, key.clone()));
            }
        }
    }
}

impl Backend for MemoryBackend {
    fn storage(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.storage.get(&(*contract, key.to_vec())).cloned()
    }
    fn contract(&self, contract: &AccountId) -> Option<ContractInfo> {
        self.contracts.get(contract).cloned()
    }
    fn code(&self, code_hash: &CodeHash) -> Option<Arc<[u8]>> {
        self.codes.get(code_hash).cloned()
    }
}

/// The id of a contract: blake2_256(deployer ‖ code_hash ‖ cluster ‖ salt) (docs/protocol.md,
/// *Contract commands*).
pub fn contract_address(
    deployer: &AccountId,
    code_hash: &CodeHash,
    cluster: &[u8; 32],
    salt: &[u8],
) -> AccountId {
    let mut preimage = Vec::with_capacity(96usize.saturating_add(salt.len()));
    preimage.extend_from_slice(deployer);
    preimage.extend_from_slice(code_hash);
    preimage.extend_from_slice(cluster);
    preimage.extend_from_slice(salt);
    sp_crypto_hashing::blake2_256(&preimage)
}
