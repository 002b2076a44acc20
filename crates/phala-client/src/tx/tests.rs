//! Extrinsic layout against the Substrate vectors, and the whole transaction flow against an
//! in-process mock node that answers like a Substrate node.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jsonrpsee::server::{RpcModule, Server, ServerHandle, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use parity_scale_codec::{Compact, Decode, Encode};
use phala_primitives::crypto::{decode_hex, encode_hex, sr25519_verify};
use phala_primitives::extrinsic::{AdditionalSigned, signing_message};
use phala_primitives::hashing::blake2_256;
use phala_primitives::{Block, Header, MultiSignature, OpaqueExtrinsic, PHA, Weight};
use phala_runtime::dispatch::{DispatchClass, DispatchError, DispatchInfo, Pays};
use phala_runtime::modules::balances::AccountData;
use phala_runtime::modules::system::{AccountInfo, EventRecord};
use serde_json::{Value, json};

use super::*;
use crate::MetadataSource;

fn alice() -> Sr25519Pair {
    Sr25519Pair::from_uri("//Alice").unwrap()
}

fn bob() -> AccountId32 {
    Sr25519Pair::from_uri("//Bob").unwrap().account_id()
}

fn vector_params() -> SigningParams {
    SigningParams {
        nonce: 0,
        tip: 0,
        era: Era::mortal(64, 100),
        birth_number: 100,
        birth_hash: H256([0x22; 32]),
        genesis_hash: H256([0x11; 32]),
        spec_version: 100,
        transaction_version: 1,
    }
}

#[test]
fn signed_extrinsic_matches_the_substrate_layout() {
    // The transfer vector of docs/substrate-compat.md, *Test vectors* (Balances is module 2).
    let call = transfer_call(bob(), PHA, true);
    let call_hex =
        "0203008eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48070010a5d4e8";
    assert_eq!(hex::encode(call.encode()), call_hex);
    let tx = SignedTx::new(call, &alice(), vector_params());
    let bytes = tx.bytes();

    // Compact(len) ‖ 84 ‖ 00 ‖ alice ‖ 01 ‖ sig ‖ era ‖ nonce ‖ tip ‖ call
    let mut input = bytes;
    let len = Compact::<u32>::decode(&mut input).unwrap().0 as usize;
    assert_eq!(len, input.len());
    assert_eq!(input[0], 0x84);
    assert_eq!(input[1], 0x00);
    assert_eq!(&input[2..34], &alice().public());
    assert_eq!(input[34], 0x01);
    let sig: [u8; 64] = input[35..99].try_into().unwrap();
    assert_eq!(hex::encode(&input[99..103]), "45020000");
    assert_eq!(hex::encode(&input[103..]), call_hex);

    let payload = format!(
        "{call_hex}450200006400000001000000{}{}",
        "11".repeat(32),
        "22".repeat(32)
    );
    assert_eq!(payload.len() / 2, 117);
    assert!(sr25519_verify(
        &sig,
        &hex::decode(&payload).unwrap(),
        &alice().public()
    ));
    assert_eq!(tx.hash(), H256(blake2_256(bytes)));
    assert_eq!(tx.death(), Some(164));
    assert_eq!(tx.to_hex(), encode_hex(bytes));

    // The runtime reads back what was signed.
    let decoded = UncheckedExtrinsic::decode(&mut &bytes[..]).unwrap();
    assert_eq!(&decoded.function, tx.call());
    let signature = decoded.signature.unwrap();
    assert_eq!(signature.address, MultiAddress::Id(alice().account_id()));
    assert_eq!(signature.extra.nonce, 0);
}

#[test]
fn long_payloads_are_signed_by_hash_and_immortal_eras_by_genesis() {
    let call = RuntimeCall::System(system::Call::remark {
        remark: vec![7; 300],
    });
    let params = SigningParams {
        era: Era::Immortal,
        birth_number: 0,
        birth_hash: H256([0x11; 32]),
        nonce: 5,
        tip: 3,
        ..vector_params()
    };
    let tx = SignedTx::new(call.clone(), &alice(), params);
    let extra = SignedExtra {
        era: Era::Immortal,
        nonce: 5,
        tip: 3,
    };
    let additional = AdditionalSigned {
        spec_version: 100,
        transaction_version: 1,
        genesis_hash: H256([0x11; 32]),
        birth_hash: H256([0x11; 32]),
    };
    let message = signing_message(&call.encode(), &extra, &additional);
    assert_eq!(message.len(), 32);
    let decoded = UncheckedExtrinsic::decode(&mut tx.bytes()).unwrap();
    let MultiSignature::Sr25519(sig) = decoded.signature.unwrap().signature else {
        panic!("not sr25519");
    };
    assert!(sr25519_verify(&sig, &message, &alice().public()));
    assert_eq!(tx.death(), None);
    // Era 00, nonce 14 (compact 5), tip 0c (compact 3) directly after the signature.
    assert_eq!(hex::encode(&tx.bytes()[3 + 1 + 32 + 65..][..3]), "00140c");
}

#[test]
fn transfer_calls_use_the_balances_indices() {
    assert_eq!(transfer_call(bob(), 1, true).encode()[..2], [2, 3]);
    assert_eq!(transfer_call(bob(), 1, false).encode()[..2], [2, 0]);
}

#[test]
fn statuses_parse_from_substrate_json() {
    let h = format!("0x{}", "ab".repeat(32));
    let cases = [
        (json!("future"), TxStatus::Future),
        (json!("ready"), TxStatus::Ready),
        (
            json!({"broadcast": ["peer"]}),
            TxStatus::Broadcast(vec!["peer".into()]),
        ),
        (json!({"inBlock": h}), TxStatus::InBlock(H256([0xab; 32]))),
        (
            json!({"retracted": h}),
            TxStatus::Retracted(H256([0xab; 32])),
        ),
        (
            json!({"finalityTimeout": h}),
            TxStatus::FinalityTimeout(H256([0xab; 32])),
        ),
        (
            json!({"finalized": h}),
            TxStatus::Finalized(H256([0xab; 32])),
        ),
        (json!({"usurped": h}), TxStatus::Usurped(H256([0xab; 32]))),
        (json!("dropped"), TxStatus::Dropped),
        (json!("invalid"), TxStatus::Invalid),
    ];
    for (value, status) in cases {
        assert_eq!(serde_json::from_value::<TxStatus>(value).unwrap(), status);
    }
}

#[test]
fn fee_query_input_and_output_layouts() {
    let tx = SignedTx::new(transfer_call(bob(), PHA, true), &alice(), vector_params());
    let input = query_info_input(&tx);
    let mut rest = &input[..];
    let xt = UncheckedExtrinsic::decode(&mut rest).unwrap();
    assert_eq!(&xt.function, tx.call());
    assert_eq!(rest, (tx.bytes().len() as u32).to_le_bytes());
    // docs/substrate-compat.md, *Test vectors*: weight 125_000_000/3593, Normal, fee 10^9.
    let out = decode_hex("0x0265cd1d25380000ca9a3b000000000000000000000000").unwrap();
    let info: RuntimeDispatchInfo = decode_exact("info", &out).unwrap();
    assert_eq!(info.weight, Weight::from_parts(125_000_000, 3593));
    assert_eq!(info.class, DispatchClass::Normal);
    assert_eq!(info.partial_fee, 1_000_000_000);
}

// ---------------------------------------------------------------------------------------
// Mock node.

const FEE: Balance = 2_500_000_000;

struct MockNode {
    blocks: Mutex<Vec<Block>>,
    finalized: Mutex<usize>,
    /// Refuse every submission with 1010 BadProof.
    reject: bool,
}

fn header_json(h: &Header) -> Value {
    json!({
        "parentHash": h.parent_hash,
        "number": format!("0x{:x}", h.number),
        "stateRoot": h.state_root,
        "extrinsicsRoot": h.extrinsics_root,
        "digest": {"logs": h.digest.iter().map(|d| encode_hex(&d.encode())).collect::<Vec<_>>()},
    })
}

fn invalid(code: i32, message: &str, data: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message, Some(data))
}

impl MockNode {
    fn new(reject: bool) -> MockNode {
        let genesis = Block {
            header: Header {
                parent_hash: H256::zero(),
                number: 0,
                state_root: H256([1; 32]),
                extrinsics_root: phala_primitives::block::extrinsics_root(&[]),
                digest: vec![],
            },
            extrinsics: vec![],
        };
        MockNode {
            blocks: Mutex::new(vec![genesis]),
            finalized: Mutex::new(0),
            reject,
        }
    }

    fn genesis_hash(&self) -> H256 {
        self.blocks.lock().unwrap()[0].hash()
    }

    fn find(&self, hash: H256) -> Option<Block> {
        let blocks = self.blocks.lock().unwrap();
        blocks.iter().find(|b| b.hash() == hash).cloned()
    }

    /// Checks the transaction like a node would, then seals and finalizes a block with it.
    fn import(&self, hex: &str) -> Result<H256, ErrorObjectOwned> {
        if self.reject {
            return Err(invalid(
                1010,
                "Invalid Transaction",
                "Transaction has a bad signature",
            ));
        }
        let bytes = decode_hex(hex).map_err(|e| invalid(1001, &e.to_string(), ""))?;
        let xt = UncheckedExtrinsic::decode(&mut &bytes[..])
            .map_err(|e| invalid(1001, &e.to_string(), ""))?;
        let sig = xt.signature.clone().unwrap();
        // Signed against block 0 (the finalized head at signing time).
        let additional = AdditionalSigned {
            spec_version: 7,
            transaction_version: 2,
            genesis_hash: self.genesis_hash(),
            birth_hash: self.genesis_hash(),
        };
        let message = signing_message(&xt.function.encode(), &sig.extra, &additional);
        let signer = sig.address.account().unwrap();
        if !sig.signature.verify(&message, &signer) {
            return Err(invalid(
                1010,
                "Invalid Transaction",
                "Transaction has a bad signature",
            ));
        }
        let mut blocks = self.blocks.lock().unwrap();
        let parent = blocks.last().unwrap().hash();
        let extrinsics = vec![
            OpaqueExtrinsic::from_bytes(vec![8, 4, 1]).unwrap(),
            OpaqueExtrinsic::from_bytes(bytes).unwrap(),
        ];
        let block = Block {
            header: Header {
                parent_hash: parent,
                number: blocks.len() as u32,
                state_root: H256([3; 32]),
                extrinsics_root: phala_primitives::block::extrinsics_root(&extrinsics),
                digest: vec![],
            },
            extrinsics,
        };
        let hash = block.hash();
        blocks.push(block);
        *self.finalized.lock().unwrap() = blocks.len() - 1;
        Ok(hash)
    }

    /// Events of every sealed block: the transaction (index 1) pays its fee and fails with
    /// Balances.InsufficientBalance.
    fn events(signer: AccountId32) -> Vec<EventRecord> {
        let info = DispatchInfo {
            weight: Weight::from_parts(1, 2),
            class: DispatchClass::Normal,
            pays_fee: Pays::Yes,
        };
        let error: DispatchError = balances::Error::InsufficientBalance.into();
        let record = |phase, event| EventRecord {
            phase,
            event,
            topics: vec![],
        };
        vec![
            record(
                Phase::ApplyExtrinsic(0),
                RuntimeEvent::System(system::Event::ExtrinsicSuccess {
                    dispatch_info: info,
                }),
            ),
            record(
                Phase::ApplyExtrinsic(1),
                RuntimeEvent::Balances(balances::Event::Withdraw {
                    who: signer,
                    amount: FEE,
                }),
            ),
            record(
                Phase::ApplyExtrinsic(1),
                RuntimeEvent::TransactionPayment(transaction_payment::Event::TransactionFeePaid {
                    who: signer,
                    actual_fee: FEE,
                    tip: 0,
                }),
            ),
            record(
                Phase::ApplyExtrinsic(1),
                RuntimeEvent::System(system::Event::ExtrinsicFailed {
                    dispatch_error: error,
                    dispatch_info: info,
                }),
            ),
        ]
    }

    fn storage(&self, key: &str, at: Option<H256>) -> Value {
        let key = decode_hex(key).unwrap();
        let alice = alice().account_id();
        if key == system::ACCOUNT.key(&alice) {
            let info = AccountInfo {
                nonce: 0,
                consumers: 0,
                providers: 1,
                sufficients: 0,
                data: AccountData {
                    free: 10 * PHA,
                    ..Default::default()
                },
            };
            return json!(encode_hex(&info.encode()));
        }
        if key == system::EVENTS.key() && at.is_some_and(|h| h != self.genesis_hash()) {
            return json!(encode_hex(&Self::events(alice).encode()));
        }
        Value::Null
    }

    fn state_call(&self, method: &str, data: &str) -> Result<Value, ErrorObjectOwned> {
        let input = decode_hex(data).unwrap();
        let out = match method {
            "Metadata_metadata_at_version" => {
                assert_eq!(input, 15u32.encode());
                let bytes = phala_runtime::metadata::metadata_bytes(15).unwrap();
                Some(bytes.to_vec()).encode()
            }
            "TransactionPaymentApi_query_info" => {
                let mut rest = &input[..];
                let xt = OpaqueExtrinsic::decode(&mut rest).unwrap();
                let len = u32::decode(&mut rest).unwrap();
                assert!(rest.is_empty());
                assert_eq!(len as usize, xt.as_bytes().len());
                RuntimeDispatchInfo {
                    weight: Weight::from_parts(125_000_000, 3593),
                    class: DispatchClass::Normal,
                    partial_fee: FEE,
                }
                .encode()
            }
            other => {
                return Err(invalid(4003, "Client error", &format!("unknown {other}")));
            }
        };
        Ok(json!(encode_hex(&out)))
    }
}

fn param<T: serde::de::DeserializeOwned>(p: &Params, i: usize) -> Option<T> {
    let values: Vec<Value> = p.parse().unwrap_or_default();
    values
        .get(i)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
}

async fn start(node: MockNode) -> (SocketAddr, ServerHandle, Arc<MockNode>) {
    let node = Arc::new(node);
    let mut m = RpcModule::from_arc(node.clone());
    m.register_method("chain_getBlockHash", |p, n, _| {
        let number: u64 = param(&p, 0).unwrap();
        let blocks = n.blocks.lock().unwrap();
        blocks.get(number as usize).map(|b| b.hash())
    })
    .unwrap();
    m.register_method("chain_getFinalizedHead", |_, n, _| {
        let index = *n.finalized.lock().unwrap();
        json!(n.blocks.lock().unwrap()[index].hash())
    })
    .unwrap();
    m.register_method("chain_getHeader", |p, n, _| match param::<H256>(&p, 0) {
        Some(hash) => n.find(hash).map(|b| header_json(&b.header)),
        None => n
            .blocks
            .lock()
            .unwrap()
            .last()
            .map(|b| header_json(&b.header)),
    })
    .unwrap();
    m.register_method("chain_getBlock", |p, n, _| {
        let hash: H256 = param(&p, 0).unwrap();
        n.find(hash).map(|b| {
            let xts: Vec<String> = b.extrinsics.iter().map(|x| encode_hex(x.as_bytes())).collect();
            json!({"block": {"header": header_json(&b.header), "extrinsics": xts}, "justifications": null})
        })
    })
    .unwrap();
    m.register_method("state_getRuntimeVersion", |_, _, _| {
        json!({"specName": "phala", "implName": "phala-node", "authoringVersion": 1,
               "specVersion": 7, "implVersion": 0, "apis": [["0xdf6acb689907609b", 5]],
               "transactionVersion": 2, "systemVersion": 1, "stateVersion": 1})
    })
    .unwrap();
    m.register_method(
        "system_properties",
        |_, _, _| json!({"ss58Format": 30, "tokenDecimals": 12, "tokenSymbol": "PHA"}),
    )
    .unwrap();
    m.register_method("system_chain", |_, _, _| "Development")
        .unwrap();
    m.register_method("system_accountNextIndex", |p, _, _| {
        let who: String = param(&p, 0).unwrap();
        assert_eq!(who, alice().account_id().to_ss58());
        0u32
    })
    .unwrap();
    m.register_method("state_getStorage", |p, n, _| {
        let key: String = param(&p, 0).unwrap();
        n.storage(&key, param(&p, 1))
    })
    .unwrap();
    m.register_method("state_call", |p, n, _| {
        let method: String = param(&p, 0).unwrap();
        let data: String = param(&p, 1).unwrap();
        n.state_call(&method, &data)
    })
    .unwrap();
    m.register_method("author_submitExtrinsic", |p, n, _| {
        let hex: String = param(&p, 0).unwrap();
        n.import(&hex)
    })
    .unwrap();
    m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |p, pending, n, _| async move {
            let hex: String = param(&p, 0).unwrap();
            let hash = match n.import(&hex) {
                Ok(hash) => hash,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let sink = pending.accept().await.unwrap();
            for status in [
                json!("ready"),
                json!({"inBlock": hash}),
                json!({"finalized": hash}),
            ] {
                let raw = serde_json::value::to_raw_value(&status).unwrap();
                sink.send(SubscriptionMessage::from(raw)).await.unwrap();
            }
        },
    )
    .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    (addr, server.start(m), node)
}

#[tokio::test]
async fn queries_decode_with_the_runtime_types() {
    let (addr, _handle, node) = start(MockNode::new(false)).await;
    let client = Client::connect(&format!("ws://{addr}")).await.unwrap();
    assert_eq!(client.genesis_hash(), node.genesis_hash());
    assert_eq!(client.runtime_version().spec_version, 7);
    assert_eq!(client.properties().ss58_format, Some(30));
    assert_eq!(client.chain_name().await.unwrap(), "Development");
    assert_eq!(
        client.free_balance(&alice().account_id()).await.unwrap(),
        10 * PHA
    );
    assert_eq!(
        client.account(&bob()).await.unwrap(),
        AccountInfo::default()
    );
    assert_eq!(client.total_issuance().await.unwrap(), 0);
    assert_eq!(
        client.finalized_head().await.unwrap(),
        (0, node.genesis_hash())
    );
    assert!(client.header(H256([9; 32])).await.unwrap().is_none());
    assert!(
        client
            .events_at(node.genesis_hash())
            .await
            .unwrap()
            .is_empty()
    );
    let err = client.runtime_call("Foo_bar", &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the node refused state_call: Client error: unknown Foo_bar"
    );
    let md = client.metadata().await;
    assert_eq!(md.source(), MetadataSource::Node);
}

#[tokio::test]
async fn a_failing_transfer_is_followed_to_finality_and_explained() {
    let (addr, _handle, _node) = start(MockNode::new(false)).await;
    let client = Client::connect(&format!("ws://{addr}")).await.unwrap();
    let tx = client
        .sign(
            transfer_call(bob(), 100 * PHA, true),
            &alice(),
            TxOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(tx.params().era, Era::mortal(64, 0));
    assert_eq!(tx.params().spec_version, 7);
    assert_eq!(client.fee_estimate(&tx).await.unwrap().partial_fee, FEE);

    let mut seen = Vec::new();
    let outcome = client
        .submit_and_watch(&tx)
        .await
        .unwrap()
        .wait_finalized_with(|s| seen.push(s.clone()))
        .await
        .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0], TxStatus::Ready);
    assert_eq!(outcome.block_number, 1);
    assert_eq!(outcome.extrinsic_index, 1);
    assert_eq!(outcome.tx_hash, tx.hash());
    assert_eq!(outcome.events.len(), 3);
    assert_eq!(outcome.fee, FEE);
    let failure = outcome.result.clone().unwrap_err();
    assert_eq!(
        failure.description(),
        "Balances.InsufficientBalance: Balance too low to send value."
    );
    let err = outcome.into_result().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "transaction {} failed in block #1: Balances.InsufficientBalance: Balance too low to send value.",
            tx.hash()
        )
    );
}

#[tokio::test]
async fn http_clients_follow_transactions_by_polling() {
    let (addr, _handle, _node) = start(MockNode::new(false)).await;
    let client = Client::connect(&format!("http://{addr}")).await.unwrap();
    let outcome = client.transfer(&alice(), bob(), PHA, true).await.unwrap();
    assert_eq!(outcome.block_number, 1);
    assert_eq!(outcome.extrinsic_index, 1);
    assert!(!outcome.is_success());
}

#[tokio::test]
async fn rejections_read_as_one_sentence() {
    let (addr, _handle, _node) = start(MockNode::new(true)).await;
    let client = Client::connect(&format!("ws://{addr}")).await.unwrap();
    let tx = client
        .sign(
            transfer_call(bob(), PHA, true),
            &alice(),
            TxOptions::default(),
        )
        .await
        .unwrap();
    let err = client.submit(&tx).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction rejected: Transaction has a bad signature"
    );
    let err = client.submit_and_watch(&tx).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction rejected: Transaction has a bad signature"
    );
}

#[tokio::test]
async fn connection_errors_are_one_sentence() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let err = Client::connect(&url).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {url}: connection refused — is a node running there?")
    );
    let url = format!("http://127.0.0.1:{port}");
    let err = Client::connect(&url).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {url}: connection refused — is a node running there?")
    );
    let err = Client::connect("127.0.0.1:9944").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"127.0.0.1:9944\" is not a node URL: expected ws://, wss://, http:// or https://"
    );
}

/// A node that lies: a block's extrinsics swapped under its true header, and a key listing
/// that never ends (each page full, every key outside the prefix).
#[tokio::test]
async fn a_node_that_lies_about_blocks_or_keys_is_caught() {
    let genesis = MockNode::new(false).blocks.lock().unwrap()[0].clone();
    let hash = genesis.hash();
    let mut m = RpcModule::new(genesis);
    m.register_method("chain_getBlockHash", |_, g, _| json!(g.hash()))
        .unwrap();
    m.register_method("state_getRuntimeVersion", |_, _, _| {
        json!({"specName": "phala", "implName": "phala-node", "authoringVersion": 1,
               "specVersion": 7, "implVersion": 0, "apis": [],
               "transactionVersion": 2, "systemVersion": 1})
    })
    .unwrap();
    m.register_method("system_properties", |_, _, _| json!({}))
        .unwrap();
    m.register_method("chain_getBlock", |_, g, _| {
        json!({"block": {"header": header_json(&g.header), "extrinsics": ["0x0c040102"]},
               "justifications": null})
    })
    .unwrap();
    m.register_method("state_getKeysPaged", |_, _, _| {
        (0..1000u32)
            .map(|i| encode_hex(&i.to_be_bytes()))
            .collect::<Vec<_>>()
    })
    .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let _handle = server.start(m);
    let client = Client::connect(&format!("ws://{addr}")).await.unwrap();

    let err = client.block(hash).await.unwrap_err().to_string();
    assert!(err.contains("extrinsics root"), "{err}");
    let err = client
        .keys_with_prefix(b"\xff\xff", hash)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the prefix"), "{err}");
}
