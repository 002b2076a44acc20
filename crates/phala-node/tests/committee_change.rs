//! A committee change with real nodes: //Eve bonds and validates, //Dave unbonds; at the next
//! epoch boundary Eve replaces Dave, finality continues with Eve signing, and a light client
//! that trusts only the genesis header follows the change through the node's RPC.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use phala_chain::ChainType;
use phala_chain::dev::{DEV_BOND, local_testnet};
use phala_client::{Client, TxOptions};
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_light_client::LightClient;
use phala_node::NodeConfig;
use phala_primitives::consensus::CommitteeChange;
use phala_primitives::{Block, Header};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::validators;

mod node;

use node::{Running, free_addr};

const EPOCH: u32 = 8;

fn start(
    spec: &phala_chain::ChainSpec,
    base: &std::path::Path,
    name: &str,
    p2p: Option<SocketAddr>,
) -> Running {
    let config = NodeConfig {
        spec: spec.clone(),
        base_path: base.join(name),
        validator: Some(Ed25519Pair::from_uri(&format!("//{name}")).unwrap()),
        rpc_addr: free_addr(),
        prometheus_addr: None,
        p2p_listen: p2p,
        pruning: Some(1024),
        name: name.into(),
        followers: Vec::new(),
        log_tag: None,
    };
    node::start(config)
}

async fn submit(client: &Client, who: &str, call: RuntimeCall) {
    let pair = Sr25519Pair::from_uri(who).unwrap();
    let tx = client
        .sign(call, &pair, TxOptions::default())
        .await
        .unwrap();
    client
        .submit_and_watch(&tx)
        .await
        .unwrap()
        .wait_finalized()
        .await
        .unwrap()
        .into_result()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn eve_replaces_dave_and_a_light_client_follows() {
    let dir = tempfile::tempdir().unwrap();
    let addrs: Vec<SocketAddr> = (0..4).map(|_| free_addr()).collect();
    let mut spec = local_testnet("Test", "test", ChainType::Local, 4, 30333).unwrap();
    spec.block_time_ms = 300;
    spec.epoch_length = EPOCH;
    spec.unbonding_period = 4;
    for (v, a) in spec.validators.iter_mut().zip(&addrs) {
        v.p2p_address = a.to_string();
    }
    let mut nodes: Vec<Running> = ["Alice", "Bob", "Charlie", "Dave"]
        .iter()
        .map(|n| start(&spec, dir.path(), n, None))
        .collect();
    let eve_addr = free_addr();
    nodes.push(start(&spec, dir.path(), "Eve", Some(eve_addr)));

    let alice = Client::connect(&format!("ws://{}", nodes[0].info.rpc_addr))
        .await
        .unwrap();
    // Eve bonds more than anyone and stands (her consensus key signs her account on this
    // chain); Dave leaves.
    let eve_pair = Ed25519Pair::from_uri("//Eve").unwrap();
    let eve_key = eve_pair.public();
    let eve_account = Sr25519Pair::from_uri("//Eve").unwrap().account_id();
    let proof_of_possession = eve_pair.sign(&validators::possession_payload(
        &alice.genesis_hash(),
        &eve_account,
    ));
    submit(
        &alice,
        "//Eve",
        RuntimeCall::Validators(validators::Call::bond {
            value: 2 * DEV_BOND,
        }),
    )
    .await;
    submit(
        &alice,
        "//Eve",
        RuntimeCall::Validators(validators::Call::validate {
            consensus_key: eve_key,
            p2p_address: eve_addr.to_string().into_bytes(),
            proof_of_possession,
        }),
    )
    .await;
    submit(
        &alice,
        "//Dave",
        RuntimeCall::Validators(validators::Call::unbond { value: DEV_BOND }),
    )
    .await;

    // Wait until a finalized boundary announces a committee with Eve and without Dave, and a
    // few blocks of that epoch are final.
    let dave_key = Ed25519Pair::from_uri("//Dave").unwrap().public();
    let start_wait = Instant::now();
    let changed_epoch = loop {
        assert!(
            start_wait.elapsed() < Duration::from_secs(120),
            "committee never changed"
        );
        let (head, _) = alice.finalized_head().await.unwrap();
        let mut found = None;
        let mut boundary = EPOCH - 1;
        while boundary <= head {
            let hash = alice.block_hash(boundary).await.unwrap().unwrap();
            let header = alice.header(hash).await.unwrap().unwrap();
            if let Some(Ok(change)) = CommitteeChange::from_header(&header)
                && change.keys.contains(&eve_key)
                && !change.keys.contains(&dave_key)
            {
                found = Some(change.epoch);
                break;
            }
            boundary += EPOCH;
        }
        if let Some(epoch) = found
            && head >= (epoch as u32) * EPOCH + 4
        {
            break epoch;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    // Eve's node follows and signs: it has the same finalized chain.
    let eve = Client::connect(&format!("ws://{}", nodes[4].info.rpc_addr))
        .await
        .unwrap();
    let target = changed_epoch as u32 * EPOCH + 2;
    let start_wait = Instant::now();
    while eve.finalized_head().await.unwrap().0 < target {
        assert!(
            start_wait.elapsed() < Duration::from_secs(60),
            "Eve's node does not follow"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        eve.block_hash(target).await.unwrap(),
        alice.block_hash(target).await.unwrap()
    );

    // The light client, trusting only the genesis header, follows headers and certificates
    // served over RPC across the change.
    let genesis = alice
        .header(alice.block_hash(0).await.unwrap().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut client = LightClient::from_genesis(&genesis).unwrap();
    let mut rng = commonware_utils::test_rng();
    let mut run: Vec<Header> = Vec::new();
    let mut last_epoch_cert: Option<(u64, Vec<u8>)> = None;
    for number in 1..=target {
        let hash = alice.block_hash(number).await.unwrap().unwrap();
        let block: Block = alice.block(hash).await.unwrap().unwrap();
        run.push(block.header.clone());
        let certificate = justification(&alice, hash).await;
        if let Some(cert) = certificate {
            client
                .import(&mut rng, &run, &cert)
                .unwrap_or_else(|e| panic!("light client refused #{number}: {e}"));
            last_epoch_cert = Some((u64::from(number / EPOCH), cert));
            run.clear();
        }
    }
    assert!(
        client.epoch() >= changed_epoch,
        "light client did not follow the change"
    );
    assert!(client.committee().contains(&eve_key));
    assert!(!client.committee().contains(&dave_key));
    // A certificate from before the change cannot vouch for a header after it.
    let (cert_epoch, old_cert) = last_epoch_cert.unwrap();
    assert!(cert_epoch >= changed_epoch);
    let next_hash = loop {
        if let Some(h) = alice.block_hash(target + 1).await.unwrap() {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let next = alice.header(next_hash).await.unwrap().unwrap();
    let stale = justification(&alice, alice.block_hash(1).await.unwrap().unwrap())
        .await
        .unwrap();
    assert!(
        client
            .import(&mut rng, std::slice::from_ref(&next), &stale)
            .is_err()
    );
    assert!(!old_cert.is_empty());

    for node in nodes {
        node.stop();
    }
}

/// The finality certificate of a finalized block, if it has its own.
async fn justification(client: &Client, hash: phala_primitives::H256) -> Option<Vec<u8>> {
    client.finality_proof(hash).await.unwrap()
}
