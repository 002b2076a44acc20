//! A chain on a temporary directory with the RPC server in front of it, and signing helpers.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::Encode;
use phala_chain::dev::local_testnet;
use phala_chain::{Chain, ChainType, PoolLimits};
use phala_keys::Sr25519Pair;
use phala_primitives::extrinsic::{AdditionalSigned, Signature, signing_message};
use phala_primitives::{AccountId32, Block, Era, H256, MultiAddress, MultiSignature, SignedExtra};
use phala_rpc::{RpcConfig, RpcHandle};
use phala_runtime::modules::{balances, system};
use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
use phala_runtime::{RuntimeCall, UncheckedExtrinsic};
use phala_state::StoreConfig;
use serde_json::Value;

pub struct Node {
    pub chain: Arc<Chain>,
    pub rpc: RpcHandle,
    pub calls: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Node {
    pub async fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let spec = local_testnet("Test", "test", ChainType::Development, 1, 30333).unwrap();
        let chain = Chain::open(
            spec,
            StoreConfig::new(dir.path().join("chain.redb")),
            PoolLimits::default(),
        )
        .unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let rpc = phala_rpc::start(
            chain.clone(),
            RpcConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                node_name: "phala-node".into(),
                local_peer_id: String::new(),
                node_version: "0.1.0-test".into(),
                is_validator: true,
                peers: Arc::new(AtomicUsize::new(0)),
                max_connections: 100,
                on_call: Some(Arc::new(move |m: &str| {
                    seen.lock().unwrap().push(m.to_string())
                })),
            },
        )
        .await
        .unwrap();
        Node {
            chain,
            rpc,
            calls,
            _dir: dir,
        }
    }

    pub async fn ws(&self) -> WsClient {
        WsClientBuilder::default()
            .build(format!("ws://{}", self.rpc.local_addr()))
            .await
            .unwrap()
    }

    /// Builds and finalizes the next block with whatever the pool holds.
    pub fn finalize_next(&self) -> Block {
        let (n, head) = self.chain.finalized().unwrap();
        let pending = self
            .chain
            .build_block(&head, 10_000 + u64::from(n) * 1_000)
            .unwrap();
        self.chain.finalize_block(&pending.block, b"cert").unwrap();
        pending.block.clone()
    }
}

pub fn account(uri: &str) -> AccountId32 {
    Sr25519Pair::from_uri(uri).unwrap().account_id()
}

pub fn account_key(uri: &str) -> String {
    hex(&system::ACCOUNT.key(&account(uri)))
}

pub fn system_account_prefix() -> String {
    hex(&system::ACCOUNT.prefix())
}

pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", ::hex::encode(bytes))
}

pub fn transfer_call(value: u128) -> RuntimeCall {
    RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(account("//Bob")),
        value,
    })
}

/// A signed transfer to Bob, signed against `genesis` (the real one unless testing mismatch).
pub fn signed_transfer(from: &str, nonce: u32, value: u128, genesis: H256) -> Vec<u8> {
    let signer = Sr25519Pair::from_uri(from).unwrap();
    let call = transfer_call(value);
    let extra = SignedExtra {
        era: Era::Immortal,
        nonce,
        tip: 0,
    };
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: genesis,
        birth_hash: genesis,
    };
    let sig = signer.sign(&signing_message(&call.encode(), &extra, &additional));
    with_signature(from, nonce, call, MultiSignature::Sr25519(sig))
}

/// polkadot.js's `signFake`: an sr25519 signature of all 0x01 bytes.
pub fn fake_signed_transfer(from: &str, nonce: u32, value: u128) -> Vec<u8> {
    with_signature(
        from,
        nonce,
        transfer_call(value),
        MultiSignature::Sr25519([1; 64]),
    )
}

fn with_signature(from: &str, nonce: u32, call: RuntimeCall, signature: MultiSignature) -> Vec<u8> {
    UncheckedExtrinsic {
        signature: Some(Signature {
            address: MultiAddress::Id(account(from)),
            signature,
            extra: SignedExtra {
                era: Era::Immortal,
                nonce,
                tip: 0,
            },
        }),
        function: call,
    }
    .encode()
}

pub fn params(values: Vec<Value>) -> ArrayParams {
    let mut p = ArrayParams::new();
    for v in values {
        p.insert(v).unwrap();
    }
    p
}

/// A call's result, or its JSON-RPC error object.
pub async fn call<C: ClientT>(
    client: &C,
    method: &str,
    values: Vec<Value>,
) -> Result<Value, ErrorObjectOwned> {
    match client.request::<Value, _>(method, params(values)).await {
        Ok(v) => Ok(v),
        Err(ClientError::Call(e)) => Err(e),
        Err(other) => panic!("{method}: transport failure {other}"),
    }
}

pub async fn ok<C: ClientT>(client: &C, method: &str, values: Vec<Value>) -> Value {
    call(client, method, values)
        .await
        .unwrap_or_else(|e| panic!("{method} failed: {e:?}"))
}

/// The `data` of an error, as the string it carries.
pub fn data(e: &ErrorObjectOwned) -> Option<String> {
    e.data()
        .and_then(|d| serde_json::from_str::<String>(d.get()).ok())
}
