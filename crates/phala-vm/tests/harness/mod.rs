//! A one-cluster test bed: codes from ../shared/fixtures/contracts, an in-memory backend that
//! commits each successful outcome, and a local environment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use parity_scale_codec::{Decode, Encode};
use phala_vm::{
    AccountId, CodeHash, Entry, ExecContext, LocalEnvironment, MemoryBackend, Mode, Outcome,
    REVERT, Request, Vm,
};

pub const ALICE: AccountId = [0xa1; 32];
pub const BOB: AccountId = [0xb0; 32];
pub const CLUSTER: [u8; 32] = [0xc1; 32];
pub const GAS: u64 = 5_000_000_000;

/// The project's own example contracts (`examples/contracts` of this checkout).
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/contracts")
}

/// An example bundle's path, usable wherever a fixture's name is.
pub fn example(name: &str) -> String {
    examples_dir().join(name).display().to_string()
}

pub fn fixtures_dir() -> PathBuf {
    phala_vm::contract_fixtures_dir()
}

/// The wasm of a fixture: a raw `.wasm`, or the `source.wasm` of a cargo-contract bundle.
pub fn fixture_wasm(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixtures_dir().join(name))
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    if name.ends_with(".wasm") {
        return bytes;
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let hex_code = json["source"]["wasm"]
        .as_str()
        .expect("bundle has source.wasm");
    let wasm = hex::decode(hex_code.trim_start_matches("0x")).unwrap();
    let hash = json["source"]["hash"].as_str().unwrap();
    assert_eq!(
        hex::encode(sp_crypto_hashing::blake2_256(&wasm)),
        hash.trim_start_matches("0x"),
        "{name}: source.hash"
    );
    wasm
}

pub fn selector(hex_selector: &str) -> Vec<u8> {
    hex::decode(hex_selector.trim_start_matches("0x")).unwrap()
}

pub struct Cluster {
    pub vm: Vm,
    pub backend: MemoryBackend,
    pub env: Arc<LocalEnvironment>,
    pub block: u32,
}

impl Cluster {
    pub fn new() -> Self {
        Self {
            vm: Vm::new(),
            backend: MemoryBackend::default(),
            env: Arc::new(LocalEnvironment::new([7; 32])),
            block: 1,
        }
    }

    pub fn upload(&mut self, wasm: &[u8]) -> CodeHash {
        phala_vm::validate(wasm).expect("fixture validates");
        self.backend.add_code(wasm)
    }

    fn ctx(&self, mode: Mode) -> ExecContext {
        ExecContext {
            mode,
            cluster: CLUSTER,
            block_number: self.block,
            timestamp_ms: 1_700_000_000_000 + u64::from(self.block) * 6_000,
            gas_price: 1,
            system_contract: [0; 32],
            deadline: None,
        }
    }

    pub fn run(&mut self, mode: Mode, origin: AccountId, entry: Entry, gas: u64) -> Outcome {
        let outcome = self.vm.execute(
            Box::new(self.backend.clone()),
            self.env.clone(),
            self.ctx(mode),
            Request {
                origin,
                entry,
                gas_limit: gas,
            },
        );
        if mode == Mode::Transaction && outcome.is_success() {
            self.backend.apply(&outcome.changes);
            for (contract, op) in &outcome.changes.cache_ops {
                phala_vm::apply_cache_op(self.env.as_ref(), contract, op);
            }
            self.block += 1;
        }
        outcome
    }

    pub fn instantiate(
        &mut self,
        origin: AccountId,
        code_hash: CodeHash,
        input: Vec<u8>,
    ) -> AccountId {
        let outcome = self.run(
            Mode::Transaction,
            origin,
            Entry::Instantiate {
                code_hash,
                salt: Vec::new(),
                input,
            },
            GAS,
        );
        assert!(
            outcome.is_success(),
            "instantiate: {:?} {:?}",
            outcome.result,
            outcome.debug_message
        );
        outcome.contract
    }

    pub fn deploy(&mut self, fixture: &str, constructor: &str, args: &[u8]) -> AccountId {
        let code = self.upload(&fixture_wasm(fixture));
        let mut input = selector(constructor);
        input.extend_from_slice(args);
        self.instantiate(ALICE, code, input)
    }

    pub fn command(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        message: &str,
        args: &[u8],
    ) -> Outcome {
        let mut input = selector(message);
        input.extend_from_slice(args);
        self.run(
            Mode::Transaction,
            origin,
            Entry::Call { contract, input },
            GAS,
        )
    }

    pub fn query(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        message: &str,
        args: &[u8],
    ) -> Outcome {
        let mut input = selector(message);
        input.extend_from_slice(args);
        self.run(Mode::Query, origin, Entry::Call { contract, input }, GAS)
    }

    /// A query that must return without REVERT; its output.
    pub fn read(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        message: &str,
        args: &[u8],
    ) -> Vec<u8> {
        let outcome = self.query(origin, contract, message, args);
        let result = outcome
            .result
            .clone()
            .unwrap_or_else(|e| panic!("query {message}: {e}; debug: {}", outcome.debug_message));
        assert!(!result.is_revert(), "query {message} reverted: {result:?}");
        result.data
    }
}

/// A flipper built from `name`: `new(false)`, `get`, `flip`, a query's flip discarded, and
/// an unknown selector refused as ink! refuses it.
pub fn check_flipper(name: &str) {
    let mut cluster = Cluster::new();
    // new(false)
    let flipper = cluster.deploy(name, "9bae9d5e", &false.encode());
    assert_eq!(
        cluster.backend.storage.get(&(flipper, vec![0, 0, 0, 0])),
        Some(&vec![0u8])
    );
    assert_eq!(cluster.read(ALICE, flipper, "2f865bd9", &[]), [0, 0]);
    let flip = cluster.command(ALICE, flipper, "633aa551", &[]);
    assert!(flip.is_success(), "{:?}", flip.result);
    assert!(flip.gas_used > 0);
    assert_eq!(cluster.read(ALICE, flipper, "2f865bd9", &[]), [0, 1]);

    // A query's changes are discarded.
    let flip_in_query = cluster.query(ALICE, flipper, "633aa551", &[]);
    assert!(flip_in_query.is_success());
    assert_eq!(cluster.read(ALICE, flipper, "2f865bd9", &[]), [0, 1]);

    // An unknown selector: Err(LangError::CouldNotReadInput) with REVERT.
    let unknown = cluster.query(ALICE, flipper, "deadbeef", &[]);
    let result = unknown.result.unwrap();
    assert_eq!(result.flags, REVERT);
    assert_eq!(result.data, [1, 1]);
}

/// An erc20 built from `name`: the constructor's event, transfers, a reverted overdraft and
/// an allowance. Returns the cluster and the token for more checks.
pub fn check_erc20(name: &str) -> (Cluster, [u8; 32]) {
    let mut cluster = Cluster::new();
    let code = cluster.upload(&fixture_wasm(name));
    let mut input = selector("9bae9d5e");
    input.extend(1_000u128.encode());
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Instantiate {
            code_hash: code,
            salt: vec![],
            input,
        },
        GAS,
    );
    assert!(outcome.is_success(), "{:?}", outcome.result);
    // The constructor's Transfer event (from None to Alice, 1000).
    assert_eq!(outcome.events.len(), 1);
    let token = outcome.contract;

    let balance = |cluster: &mut Cluster, who: [u8; 32]| {
        let out = cluster.read(who, token, "0f755a56", &who.encode());
        u128::decode(&mut &out[1..]).unwrap()
    };
    assert_eq!(balance(&mut cluster, ALICE), 1_000);
    assert_eq!(balance(&mut cluster, BOB), 0);

    // transfer(bob, 100)
    let mut args = BOB.encode();
    args.extend(100u128.encode());
    let transfer = cluster.command(ALICE, token, "84a15da1", &args);
    assert!(transfer.is_success(), "{:?}", transfer.result);
    assert_eq!(transfer.result.as_ref().unwrap().data, [0, 0]);
    assert_eq!(transfer.events.len(), 1);
    assert_eq!(balance(&mut cluster, ALICE), 900);
    assert_eq!(balance(&mut cluster, BOB), 100);

    // Bob cannot send more than he has: Ok(Err(InsufficientBalance)), reverted.
    let before = cluster.backend.storage.clone();
    let mut args = ALICE.encode();
    args.extend(1_000u128.encode());
    let too_much = cluster.command(BOB, token, "84a15da1", &args);
    let result = too_much.result.clone().unwrap();
    assert_eq!(result.flags, REVERT);
    assert_eq!(result.data, [0, 1, 0]);
    assert!(too_much.changes.is_empty());
    assert!(too_much.events.is_empty());
    assert_eq!(cluster.backend.storage, before);

    // approve(bob, 50), then allowance(alice, bob)
    let mut args = BOB.encode();
    args.extend(50u128.encode());
    assert!(
        cluster
            .command(ALICE, token, "681266a0", &args)
            .is_success()
    );
    let mut args = ALICE.encode();
    args.extend(BOB.encode());
    let out = cluster.read(ALICE, token, "6a00165e", &args);
    assert_eq!(u128::decode(&mut &out[1..]).unwrap(), 50);
    (cluster, token)
}
