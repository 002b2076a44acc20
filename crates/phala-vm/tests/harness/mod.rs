//! A one-cluster test bed: codes from ../shared/fixtures/contracts, an in-memory backend that
//! commits each successful outcome, and a local environment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use phala_vm::{
    AccountId, CodeHash, Entry, ExecContext, LocalEnvironment, MemoryBackend, Mode, Outcome,
    Request, Vm,
};

pub const ALICE: AccountId = [0xa1; 32];
pub const BOB: AccountId = [0xb0; 32];
pub const CLUSTER: [u8; 32] = [0xc1; 32];
pub const GAS: u64 = 5_000_000_000;

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
