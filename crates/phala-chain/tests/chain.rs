//! The chain client without consensus: build, import, finalize, pool behaviour.

use std::sync::Arc;

use parity_scale_codec::{Compact, Encode};
use phala_chain::dev::local_testnet;
use phala_chain::{Chain, ChainType, PoolLimits, SubmitError, TxStatus};
use phala_keys::Sr25519Pair;
use phala_primitives::extrinsic::AdditionalSigned;
use phala_primitives::{Era, MultiAddress, PHA, SignedExtra};
use phala_runtime::modules::balances;
use phala_runtime::validity::InvalidTransaction;
use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
use phala_runtime::{RuntimeCall, UncheckedExtrinsic};
use phala_state::StoreConfig;

fn open(dir: &tempfile::TempDir) -> Arc<Chain> {
    let spec = local_testnet("Test", "test", ChainType::Development, 1, 30333).unwrap();
    Chain::open(
        spec,
        StoreConfig::new(dir.path().join("chain.redb")),
        PoolLimits::default(),
    )
    .unwrap()
}

fn transfer(chain: &Chain, from: &str, nonce: u32, value: u128) -> Vec<u8> {
    let signer = Sr25519Pair::from_uri(from).unwrap();
    let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
    let call = RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(bob),
        value,
    });
    let extra = SignedExtra {
        era: Era::Immortal,
        nonce,
        tip: 0,
    };
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: chain.genesis_hash(),
        birth_hash: chain.genesis_hash(),
    };
    UncheckedExtrinsic::new_signed_sr25519(call, signer.account_id(), extra, &additional, |m| {
        signer.sign(m)
    })
    .encode()
}

fn finalize_next(chain: &Chain, now: u64) -> phala_primitives::Block {
    let (_, head) = chain.finalized().unwrap();
    let pending = chain.build_block(&head, now).unwrap();
    chain.finalize_block(&pending.block, b"cert").unwrap();
    pending.block.clone()
}

#[tokio::test]
async fn pool_build_finalize_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let alice = Sr25519Pair::from_uri("//Alice").unwrap().account_id();
    let mut finalized = chain.subscribe_finalized();

    // Nonce 1 waits for nonce 0.
    let (_, mut watch1) = chain
        .submit_and_watch(transfer(&chain, "//Alice", 1, PHA))
        .unwrap();
    assert_eq!(watch1.recv().await, Some(TxStatus::Future));
    let first = transfer(&chain, "//Alice", 0, PHA);
    let (h0, mut watch0) = chain.submit_and_watch(first.clone()).unwrap();
    assert_eq!(watch0.recv().await, Some(TxStatus::Ready));
    assert_eq!(chain.account_next_index(&alice).unwrap(), 2);
    assert_eq!(chain.submit(first), Err(SubmitError::AlreadyImported(h0)));
    // Same nonce, new signature, no higher tip: refused as a low-priority replacement.
    assert_eq!(
        chain.submit(transfer(&chain, "//Alice", 0, PHA)),
        Err(SubmitError::PriorityTooLow { old: 0, new: 0 })
    );

    let block = finalize_next(&chain, 10_000);
    assert_eq!(block.extrinsics.len(), 3);
    assert_eq!(watch0.recv().await, Some(TxStatus::InBlock(block.hash())));
    assert_eq!(watch0.recv().await, Some(TxStatus::Finalized(block.hash())));
    assert_eq!(chain.pool_len(), 0);
    let event = finalized.recv().await.unwrap();
    assert_eq!(event.hash, block.hash());

    // Stale nonce and garbage are refused with the right errors.
    assert_eq!(
        chain.submit(transfer(&chain, "//Alice", 0, PHA)),
        Err(SubmitError::Invalid(InvalidTransaction::Stale))
    );
    assert!(matches!(
        chain.submit(vec![1, 2, 3]),
        Err(SubmitError::Format(_))
    ));
    let mut bad = transfer(&chain, "//Alice", 2, PHA);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(
        chain.submit(bad),
        Err(SubmitError::Invalid(InvalidTransaction::BadProof))
    ));
    // An oversized length prefix is a format error.
    let mut huge = Compact(10_000_000u32).encode();
    huge.extend([0u8; 10]);
    assert!(matches!(chain.submit(huge), Err(SubmitError::Format(_))));
}

#[test]
fn another_node_imports_and_reopen_keeps_state() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(&dir_a);
    let b = open(&dir_b);
    assert_eq!(a.genesis_hash(), b.genesis_hash());
    a.submit(transfer(&a, "//Alice", 0, 5 * PHA)).unwrap();
    let (_, head) = a.finalized().unwrap();
    let proposal = a.build_block(&head, 5_000).unwrap();
    // B re-executes A's proposal and agrees on the state root.
    let imported = b.import_block(&proposal.block, Some(5_000)).unwrap();
    assert_eq!(imported.hash, proposal.hash);
    // A tampered block is refused.
    let mut tampered = proposal.block.clone();
    tampered.header.state_root = phala_primitives::H256([9; 32]);
    assert!(b.import_block(&tampered, Some(5_000)).is_err());
    // Timestamps far in the future are refused.
    let future = a.build_block(&head, 10_000_000).unwrap();
    assert!(b.import_block(&future.block, Some(5_000)).is_err());

    b.finalize_block(&proposal.block, b"cert").unwrap();
    a.finalize_block(&proposal.block, b"cert").unwrap();
    // Redelivery is a no-op.
    a.finalize_block(&proposal.block, b"cert").unwrap();
    let root = a.finalized_header().unwrap().state_root;
    drop(a);
    let a = open(&dir_a);
    assert_eq!(a.finalized_header().unwrap().state_root, root);
    assert_eq!(a.finalized().unwrap().0, 1);
    finalize_next(&a, 6_000);
    assert_eq!(a.finalized().unwrap().0, 2);
}
