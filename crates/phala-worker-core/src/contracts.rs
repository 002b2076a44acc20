//! Confidential contracts in a cluster worker (docs/protocol.md, *Contract commands*).
//!
//! Every worker of a cluster runs the cluster's instantiations and commands in chain order,
//! with the same inputs (opened with the cluster or contract key), the same block context and
//! the same VM, so all end in the same [`ContractsState`]; [`ContractsState::root`] lets
//! anyone compare. The state lives in the core's sealed checkpoint, so it is never on disk in
//! the clear and a restart resumes exactly where the last checkpoint was. Codes are public
//! (on chain) and kept apart, checked against their hash whenever they are loaded.
//!
//! The member a command names reports its status, gas and [`Effects`] (storage grown or
//! freed per contract, contracts created or terminated) to the chain, with the result and
//! events sealed to the caller's reply key; the chain keeps the first report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::{Envelope, Purpose};
use phala_mq::contracts::{
    CommandStatus, ContractCommand, ContractQueryResult, ContractReport, Effects, ExecutionOutput,
    MAX_EFFECTS, MAX_REPLY, MAX_SEALED_OUTPUT, NewContract, OutgoingMessage, ReplyRequest,
    SealedInput,
};
use phala_primitives::{BlockNumber, H256};
use phala_runtime::modules::balances::EXISTENTIAL_DEPOSIT;
use phala_runtime::modules::contracts::{DEFAULT_PRICING, Pricing};
use phala_vm::{
    AccountId, Backend, Changes, CodeHash, ContractInfo, Entry, ExecContext, ExecError, Mode,
    Outcome, Request, Vm,
};

use crate::contract_env::{Clock, ContractCache, HttpPolicy, SystemClock, WorkerEnvironment};
use crate::gatekeeper::ClusterKey;

/// Default gas a signed query may use (about a second or two of wasm).
pub const DEFAULT_QUERY_GAS: u64 = 2_000_000_000;
/// An anonymous query may use this fraction of a signed one's gas: it costs its sender
/// nothing to send, not even an account.
pub const ANONYMOUS_GAS_DIVISOR: u64 = 4;
/// Default time a query may take, HTTP requests included.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A cluster's contracts and their storage, as every member holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct ContractsState {
    pub contracts: BTreeMap<AccountId, ContractInfo>,
    pub storage: BTreeMap<(AccountId, Vec<u8>), Vec<u8>>,
    /// Every code uploaded so far: all must be loaded before a command runs, since any
    /// contract may instantiate any of them.
    pub codes: BTreeSet<CodeHash>,
    /// Commands run (instantiations included).
    pub commands_run: u64,
    /// The prices of the last command run, which queries quote (commands carry their own).
    pub pricing: Option<Pricing>,
}

impl ContractsState {
    fn apply(&mut self, changes: &Changes) {
        phala_vm::apply_changes(&mut self.contracts, &mut self.storage, changes);
    }

    /// What committing `changes` does that the chain must know ([`Effects`]), with the
    /// deposit it costs: the existential deposit of every new contract's account (`own`,
    /// the command's own instantiation, included) and the per-byte deposit of all growth.
    /// `keys` gives a new contract's public keys.
    fn effects(
        &self,
        per_byte: u128,
        changes: &Changes,
        own: Option<AccountId>,
        keys: impl Fn(&AccountId) -> ([u8; 32], [u8; 32]),
    ) -> (Effects, u128) {
        let mut sizes: BTreeMap<AccountId, i128> = BTreeMap::new();
        for ((contract, key), value) in &changes.storage {
            let old = self
                .storage
                .get(&(*contract, key.clone()))
                .map_or(0, |v| key.len().saturating_add(v.len()));
            let new = value
                .as_ref()
                .map_or(0, |v| key.len().saturating_add(v.len()));
            let delta = sizes.entry(*contract).or_default();
            *delta = delta
                .saturating_add(new as i128)
                .saturating_sub(old as i128);
        }
        let mut effects = Effects::default();
        let mut cost: u128 = 0;
        for (contract, delta) in sizes {
            if delta == 0 {
                continue;
            }
            let bytes = i64::try_from(delta).unwrap_or(if delta > 0 { i64::MAX } else { i64::MIN });
            if bytes > 0 {
                cost =
                    cost.saturating_add(per_byte.saturating_mul(u128::from(bytes.unsigned_abs())));
            }
            effects.storage.push((H256(contract), bytes));
        }
        let mut accounts: u128 = u128::from(own.is_some());
        for (id, info) in &changes.contracts {
            match info {
                Some(info) if !self.contracts.contains_key(id) && Some(*id) != own => {
                    let (pubkey, ecdh_pubkey) = keys(id);
                    effects.instantiated.push(NewContract {
                        contract: H256(*id),
                        code_hash: H256(info.code_hash),
                        deployer: H256(info.deployer),
                        pubkey,
                        ecdh_pubkey,
                    });
                    accounts = accounts.saturating_add(1);
                }
                Some(info)
                    if self
                        .contracts
                        .get(id)
                        .is_some_and(|old| old.code_hash != info.code_hash) =>
                {
                    effects.code_changed.push((H256(*id), H256(info.code_hash)));
                }
                None if self.contracts.contains_key(id) => {
                    // The VM records a beneficiary for every termination it commits.
                    let beneficiary = changes.terminated_to.get(id).copied().unwrap_or(*id);
                    effects.terminated.push((H256(*id), beneficiary));
                }
                _ => {}
            }
        }
        cost = cost.saturating_add(EXISTENTIAL_DEPOSIT.saturating_mul(accounts));
        (effects, cost)
    }

    /// The root of one contract's state: blake2b-256, keyed with a key derived from the
    /// cluster key and the number of commands run, of its code hash and its entries in
    /// order. Equal on every worker that ran the same commands; without the key it does not
    /// help guess a small state (a flipper's bool would be two hashes away otherwise), and
    /// with the count in the key a state that comes back does not give the same root.
    pub fn root(&self, cluster_seed: &Seed, contract: &AccountId) -> Option<H256> {
        let info = self.contracts.get(contract)?;
        let entries: Vec<(&Vec<u8>, &Vec<u8>)> = self
            .storage
            .range((*contract, Vec::new())..)
            .take_while(|((c, _), _)| c == contract)
            .map(|((_, k), v)| (k, v))
            .collect();
        let mut id = contract.to_vec();
        id.extend_from_slice(&self.commands_run.to_le_bytes());
        let key = cluster_seed.derive("contract_state_root", &id);
        Some(H256(sp_crypto_hashing::blake2_256(
            &(key.expose(), info.code_hash, entries).encode(),
        )))
    }
}

/// Uploaded codes, by hash. Public data: kept in memory and, by the host, in plain files.
#[derive(Debug, Default)]
pub struct CodeStore {
    codes: RwLock<HashMap<CodeHash, Arc<[u8]>>>,
}

impl CodeStore {
    /// Adds a code under its own hash (which is returned), whatever the source claimed.
    pub fn add(&self, wasm: &[u8]) -> CodeHash {
        let hash = sp_crypto_hashing::blake2_256(wasm);
        if let Ok(mut codes) = self.codes.write() {
            codes.entry(hash).or_insert_with(|| Arc::from(wasm));
        }
        hash
    }

    pub fn get(&self, hash: &CodeHash) -> Option<Arc<[u8]>> {
        self.codes.read().ok()?.get(hash).cloned()
    }

    pub fn contains(&self, hash: &CodeHash) -> bool {
        self.codes.read().is_ok_and(|c| c.contains_key(hash))
    }
}

struct StateBackend {
    state: Arc<ContractsState>,
    codes: Arc<CodeStore>,
}

impl Backend for StateBackend {
    fn storage(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage.get(&(*contract, key.to_vec())).cloned()
    }
    fn contract(&self, contract: &AccountId) -> Option<ContractInfo> {
        self.state.contracts.get(contract).cloned()
    }
    fn code(&self, code_hash: &CodeHash) -> Option<Arc<[u8]>> {
        // A code exists for contracts once the chain's upload is processed, whatever this
        // worker happens to have loaded already (a batch loads its codes up front, a
        // restart loads every file): otherwise workers would disagree about it.
        if !self.state.codes.contains(code_hash) {
            return None;
        }
        self.codes.get(code_hash)
    }
}

/// Most derived key pairs kept.
const MAX_CACHED_KEYS: usize = 4096;

/// What runs contracts in this worker, shared by the core (commands) and the query service.
pub struct ContractRuntime {
    pub vm: Vm,
    pub codes: Arc<CodeStore>,
    pub cache: Arc<ContractCache>,
    pub http: Arc<HttpPolicy>,
    /// The host's clock, as contracts see it (`untrusted_millis`).
    pub clock: Arc<dyn Clock>,
    /// Gas of a signed query; anonymous ones get [`ANONYMOUS_GAS_DIVISOR`] times less.
    pub query_gas: u64,
    pub query_timeout: Duration,
    /// Derived key pairs by (cluster, contract); in memory only.
    keys: Mutex<HashMap<(H256, Option<H256>), Arc<KeyPair>>>,
}

impl std::fmt::Debug for ContractRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractRuntime")
            .field("query_gas", &self.query_gas)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for ContractRuntime {
    fn default() -> Self {
        Self::new(
            HttpPolicy::default(),
            DEFAULT_QUERY_GAS,
            DEFAULT_QUERY_TIMEOUT,
        )
    }
}

impl ContractRuntime {
    pub fn new(http: HttpPolicy, query_gas: u64, query_timeout: Duration) -> Self {
        Self {
            vm: Vm::new(),
            codes: Arc::default(),
            cache: Arc::default(),
            http: Arc::new(http),
            clock: Arc::new(SystemClock),
            query_gas,
            query_timeout,
            keys: Mutex::default(),
        }
    }

    /// The cluster's key pair (`None`) or a contract's, derived once: a derivation costs two
    /// public-key computations, more than the contract call it would precede.
    fn key_pair(&self, cluster: &ClusterKey, contract: Option<H256>) -> Arc<KeyPair> {
        let id = (cluster.cluster, contract);
        if let Ok(keys) = self.keys.lock()
            && let Some(pair) = keys.get(&id)
        {
            return pair.clone();
        }
        let pair = Arc::new(match contract {
            None => KeyPair::new(cluster.seed.clone()),
            Some(contract) => KeyPair::new(cluster.seed.contract_key(&contract)),
        });
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= MAX_CACHED_KEYS {
                keys.clear();
            }
            keys.insert(id, pair.clone());
        }
        pair
    }

    fn environment(&self, cluster: &ClusterKey, worker_ecdh: [u8; 32]) -> Arc<WorkerEnvironment> {
        Arc::new(WorkerEnvironment {
            cluster_seed: cluster.seed.clone(),
            worker_pubkey: worker_ecdh,
            cache: self.cache.clone(),
            http: self.http.clone(),
            clock: self.clock.clone(),
            logs: Default::default(),
        })
    }

    /// The gas a query of `caller` may use (`None`: anonymous).
    pub fn query_gas_for(&self, caller: Option<&AccountId>) -> u64 {
        match caller {
            Some(_) => self.query_gas,
            None => self.query_gas / ANONYMOUS_GAS_DIVISOR,
        }
    }

    /// Runs a query of `caller` (`None`: anonymous, the contract sees the zero account)
    /// against a snapshot of the state at block `height` (time `timestamp_ms`), stopping at
    /// `deadline` or the runtime's timeout, whichever comes first; nothing it does is kept.
    #[allow(clippy::too_many_arguments)]
    pub fn query(
        &self,
        state: Arc<ContractsState>,
        cluster: &ClusterKey,
        worker_ecdh: [u8; 32],
        (height, timestamp_ms): (BlockNumber, u64),
        caller: Option<AccountId>,
        contract: AccountId,
        input: Vec<u8>,
        deadline: Instant,
    ) -> Result<ContractQueryResult, String> {
        if !state.contracts.contains_key(&contract) {
            return Err(format!(
                "contract 0x{} is not in this worker's cluster",
                hex::encode(contract)
            ));
        }
        let env = self.environment(cluster, worker_ecdh);
        let gas_price = state.pricing.unwrap_or(DEFAULT_PRICING).gas_price;
        let outcome = self.vm.execute(
            Box::new(StateBackend {
                state,
                codes: self.codes.clone(),
            }),
            env.clone(),
            ExecContext {
                mode: Mode::Query,
                cluster: cluster.cluster.0,
                block_number: height,
                timestamp_ms,
                gas_price,
                system_contract: [0; 32],
                deadline: Some(
                    Instant::now()
                        .checked_add(self.query_timeout)
                        .map_or(deadline, |own| own.min(deadline)),
                ),
            },
            Request {
                origin: caller.unwrap_or([0; 32]),
                entry: Entry::Call { contract, input },
                gas_limit: self.query_gas_for(caller.as_ref()),
            },
        );
        // The contract's log lines go to its caller, sealed, never to the host's log.
        let mut debug_message = outcome.debug_message;
        for line in env.take_logs() {
            if !debug_message.is_empty() && !debug_message.ends_with('\n') {
                debug_message.push('\n');
            }
            debug_message.push_str(&line);
        }
        match outcome.result {
            Ok(ret) => Ok(ContractQueryResult {
                flags: ret.flags,
                data: ret.data,
                gas_used: outcome.gas_used,
                debug_message,
            }),
            Err(e) => Err(with_debug(&e, &debug_message)),
        }
    }

    /// Runs one command of the chain's contract queue. Returns its report and the member
    /// the chain asked to send it, or `None` if the command is for another cluster.
    #[allow(clippy::too_many_arguments)]
    pub fn command(
        &self,
        rng: &mut impl rand_core::CryptoRng,
        state: &mut Arc<ContractsState>,
        cluster: Option<&ClusterKey>,
        worker_ecdh: [u8; 32],
        (block_number, timestamp_ms): (BlockNumber, u64),
        command: ContractCommand,
        notes: &mut Vec<String>,
    ) -> Option<(ContractReport, [u8; 32])> {
        let (
            reporter,
            id,
            for_cluster,
            contract,
            (gas_limit, deposit, pricing),
            sealed,
            entry_of,
            deployer,
            is_new,
        ) = match command {
            ContractCommand::CodeUploaded { code_hash } => {
                Arc::make_mut(state).codes.insert(code_hash.0);
                return None;
            }
            // The core answers reassignments from the reports it holds.
            ContractCommand::Reassign { .. } => return None,
            ContractCommand::Instantiate {
                id,
                cluster,
                contract,
                code_hash,
                deployer,
                salt,
                data,
                gas_limit,
                deposit,
                reporter,
                pricing,
            } => (
                reporter,
                id,
                cluster,
                contract,
                (gas_limit, deposit, pricing),
                Input::Sealed(data),
                Kind::Instantiate { code_hash, salt },
                deployer,
                true,
            ),
            ContractCommand::Call {
                id,
                cluster,
                contract,
                origin,
                payload,
                gas_limit,
                deposit,
                reporter,
                pricing,
            } => (
                reporter,
                id,
                cluster,
                contract,
                (gas_limit, deposit, pricing),
                Input::Sealed(payload),
                Kind::Call,
                origin,
                false,
            ),
            ContractCommand::Deliver {
                id,
                cluster,
                contract,
                origin,
                input,
                gas_limit,
                deposit,
                reporter,
                pricing,
            } => (
                reporter,
                id,
                cluster,
                contract,
                (gas_limit, deposit, pricing),
                Input::Clear(input),
                Kind::Call,
                origin,
                false,
            ),
        };
        let delivered = matches!(sealed, Input::Clear(_));
        let key = cluster.filter(|k| k.cluster == for_cluster)?;
        let fail = |status: CommandStatus| ContractReport::Executed {
            id,
            contract,
            status,
            gas_used: 0,
            contract_keys: None,
            output: None,
            effects: Effects::default(),
            // A delivered message that did not run answers with its status alone.
            reply: None,
        };
        // Constructor data is sealed to the cluster key, commands to the contract's key.
        let opener = if is_new {
            self.key_pair(key, None)
        } else {
            self.key_pair(key, Some(contract))
        };
        let opened = match sealed {
            // The bridge proved where it came from; there is nothing to open.
            Input::Clear(input) => Some(SealedInput {
                origin: deployer,
                input,
                reply_key: None,
            }),
            Input::Sealed(sealed) => sealed.open(opener.ecdh()).ok().and_then(|plain| {
                SealedInput::decode_all_with_depth_limit(8, &mut plain.as_slice()).ok()
            }),
        };
        let input = match opened {
            Some(input) if input.origin == deployer => input,
            _ => {
                notes.push(format!(
                    "command {id}: its sealed input does not open for its origin"
                ));
                return Some((fail(CommandStatus::BadInput), reporter));
            }
        };
        let entry = match entry_of {
            Kind::Instantiate { code_hash, salt } => {
                // The chain derived the id; a mismatch would put state under the wrong id.
                let expected =
                    phala_vm::contract_address(&deployer, &code_hash.0, &key.cluster.0, &salt);
                if expected != contract.0 {
                    return Some((fail(CommandStatus::BadInput), reporter));
                }
                Entry::Instantiate {
                    code_hash: code_hash.0,
                    salt,
                    input: input.input,
                }
            }
            Kind::Call => Entry::Call {
                contract: contract.0,
                input: input.input,
            },
        };
        let env = self.environment(key, worker_ecdh);
        let outcome = self.vm.execute(
            Box::new(StateBackend {
                state: state.clone(),
                codes: self.codes.clone(),
            }),
            env.clone(),
            ExecContext {
                mode: Mode::Transaction,
                cluster: key.cluster.0,
                block_number,
                timestamp_ms,
                gas_price: pricing.gas_price,
                system_contract: [0; 32],
                deadline: None,
            },
            Request {
                origin: deployer,
                entry,
                gas_limit,
            },
        );
        let mut status = status_of(&outcome);
        let mut effects = Effects::default();
        if status.is_success() {
            let (found, cost) = state.effects(
                pricing.storage_deposit_per_byte,
                &outcome.changes,
                is_new.then_some(contract.0),
                |id| {
                    let pair = self.key_pair(key, Some(H256(*id)));
                    (pair.public(), pair.ecdh_public())
                },
            );
            let mut found = found;
            found.sent = outcome
                .changes
                .sent
                .iter()
                .map(|(sender, m)| OutgoingMessage {
                    sender: H256(*sender),
                    channel: m.channel,
                    contract: H256(m.contract),
                    input: m.call.clone(),
                    gas_limit: m.gas_limit,
                    storage_bytes: m.storage_bytes,
                    reply: m.reply.map(|r| ReplyRequest {
                        query_id: r.query_id,
                        gas_limit: r.gas_limit,
                        storage_bytes: r.storage_bytes,
                    }),
                })
                .collect();
            if !found.is_bounded() {
                status = CommandStatus::TooManyContracts;
            } else if cost > deposit {
                status = CommandStatus::StorageDepositLimitExhausted;
            } else {
                effects = found;
                let state = Arc::make_mut(state);
                state.apply(&outcome.changes);
                for (contract, op) in &outcome.changes.cache_ops {
                    phala_vm::apply_cache_op(env.as_ref(), contract, op);
                }
            }
        }
        let state = Arc::make_mut(state);
        state.commands_run = state.commands_run.saturating_add(1);
        state.pricing = Some(pricing);
        let contract_keys = (is_new && status.is_success()).then(|| {
            let pair = self.key_pair(key, Some(contract));
            (pair.public(), pair.ecdh_public())
        });
        let output = input
            .reply_key
            .and_then(|reply_key| seal_output(rng, reply_key, id, contract, &status, &outcome));
        // The return data of a delivered message goes back to its sender's chain in the
        // clear, as its acknowledgement; too long, it goes back as its status alone.
        let reply = match &outcome.result {
            Ok(ret) if delivered && ret.data.len() <= MAX_REPLY => Some(ret.data.clone()),
            _ => None,
        };
        notes.push(format!(
            "contract 0x{}: command {id} {status:?}, {} gas",
            hex::encode(contract.0),
            outcome.gas_used
        ));
        Some((
            ContractReport::Executed {
                id,
                contract,
                status,
                gas_used: outcome.gas_used,
                contract_keys,
                output,
                effects,
                reply,
            },
            reporter,
        ))
    }
}

/// A command's input: sealed to a key, or in the clear for a message from the bridge.
enum Input {
    Sealed(Envelope),
    Clear(Vec<u8>),
}

enum Kind {
    Instantiate { code_hash: H256, salt: Vec<u8> },
    Call,
}

fn with_debug(error: &ExecError, debug: &str) -> String {
    if debug.is_empty() {
        error.to_string()
    } else {
        format!("{error} ({})", debug.trim())
    }
}

fn status_of(outcome: &Outcome) -> CommandStatus {
    match &outcome.result {
        Ok(ret) if ret.is_revert() => CommandStatus::Reverted,
        Ok(_) => CommandStatus::Success,
        Err(ExecError::OutOfGas) => CommandStatus::OutOfGas,
        Err(ExecError::CodeNotFound(_) | ExecError::ContractNotFound(_)) => CommandStatus::NotFound,
        Err(_) => CommandStatus::Trapped,
    }
}

/// The caller's view of its command, sealed to its reply key; events are dropped first and
/// then the data if it does not fit a report.
fn seal_output(
    rng: &mut impl rand_core::CryptoRng,
    reply_key: [u8; 32],
    id: u64,
    contract: H256,
    status: &CommandStatus,
    outcome: &Outcome,
) -> Option<Envelope> {
    let (flags, data) = match &outcome.result {
        Ok(ret) => (ret.flags, ret.data.clone()),
        Err(_) => (0, Vec::new()),
    };
    let error = match &outcome.result {
        Err(e) => Some(with_debug(e, &outcome.debug_message)),
        Ok(_) if *status == CommandStatus::StorageDepositLimitExhausted => Some(
            "the storage it adds (and the existential deposit of each contract it creates) \
             costs more than its deposit limit"
                .into(),
        ),
        Ok(_) if *status == CommandStatus::TooManyContracts => Some(format!(
            "it changes more than {MAX_EFFECTS} contracts' storage or lifetimes"
        )),
        Ok(_) => None,
    };
    let mut output = ExecutionOutput {
        id,
        contract,
        flags,
        data,
        error,
        events: outcome
            .events
            .iter()
            .map(|e| (e.topics.clone(), e.data.clone()))
            .collect(),
        gas_used: outcome.gas_used,
    };
    // Room for the envelope's own bytes.
    let room = MAX_SEALED_OUTPUT.saturating_sub(256);
    if output.encoded_size() > room {
        output.events.clear();
    }
    if output.encoded_size() > room {
        output.data.clear();
        output.error = Some("the output is too large to report".into());
    }
    Envelope::seal(
        rng,
        &reply_key,
        Purpose::QueryReply,
        Some(contract),
        &output.encode(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_runtime::modules::contracts::STORAGE_DEPOSIT_PER_BYTE;

    fn info(code: u8) -> ContractInfo {
        ContractInfo {
            code_hash: [code; 32],
            deployer: [0xde; 32],
        }
    }

    #[test]
    fn effects_list_storage_per_contract_new_and_terminated_contracts_and_their_cost() {
        let (grows, shrinks, doomed, own, child) = ([1; 32], [2; 32], [3; 32], [4; 32], [5; 32]);
        let mut state = ContractsState::default();
        for c in [grows, shrinks, doomed] {
            state.contracts.insert(c, info(1));
        }
        state.storage.insert((grows, b"k".to_vec()), vec![0; 10]);
        state.storage.insert((shrinks, b"a".to_vec()), vec![0; 10]);
        state.storage.insert((shrinks, b"b".to_vec()), vec![0; 5]);

        let mut changes = Changes::default();
        // +5 bytes on one key, a new 3-byte entry: +8.
        changes
            .storage
            .insert((grows, b"k".to_vec()), Some(vec![0; 15]));
        changes
            .storage
            .insert((grows, b"n".to_vec()), Some(vec![0; 2]));
        // One entry removed (-11), another rewritten at the same size: -11.
        changes.storage.insert((shrinks, b"a".to_vec()), None);
        changes
            .storage
            .insert((shrinks, b"b".to_vec()), Some(vec![1; 5]));
        changes
            .storage
            .insert((own, b"x".to_vec()), Some(vec![0; 3]));
        changes.contracts.insert(own, Some(info(2)));
        changes.contracts.insert(child, Some(info(3)));
        changes.contracts.insert(doomed, None);
        changes.terminated_to.insert(doomed, [0xbe; 32]);
        // A code change of an existing contract is neither new nor terminated.
        changes.contracts.insert(grows, Some(info(9)));

        let (effects, cost) = state.effects(STORAGE_DEPOSIT_PER_BYTE, &changes, Some(own), |id| {
            ([id[0]; 32], [id[0] + 1; 32])
        });
        assert_eq!(
            effects.storage,
            vec![(H256(grows), 8), (H256(shrinks), -11), (H256(own), 4)]
        );
        assert_eq!(
            effects.instantiated,
            vec![NewContract {
                contract: H256(child),
                code_hash: H256([3; 32]),
                deployer: H256([0xde; 32]),
                pubkey: [5; 32],
                ecdh_pubkey: [6; 32],
            }]
        );
        assert_eq!(effects.terminated, vec![(H256(doomed), [0xbe; 32])]);
        assert_eq!(effects.code_changed, vec![(H256(grows), H256([9; 32]))]);
        // Growth only (8 + 4 bytes) and two new accounts (the command's own and the child).
        assert_eq!(
            cost,
            12 * STORAGE_DEPOSIT_PER_BYTE + 2 * EXISTENTIAL_DEPOSIT
        );
    }
}
