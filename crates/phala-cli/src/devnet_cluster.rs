//! `phala devnet --workers M` puts its workers in one cluster, so contracts can be deployed
//! at once: once every worker is registered and the gatekeepers have published the master
//! key, root (//Alice on a dev chain) creates the cluster, and the gatekeepers deliver its
//! key. A devnet resumed from its base path finds its cluster already there.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use phala_client::keys::Sr25519Pair;
use phala_client::worker::WorkerApi;
use phala_client::{Client, TxOptions};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::{contracts, sudo};

/// How long the devnet waits for its workers to register and its cluster to get a key.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the set-up in its own thread; the thread then waits for `stop`, as the devnet's
/// other threads do (one ending stops the devnet).
pub fn spawn(
    rpc: SocketAddr,
    workers: Vec<String>,
    stop: tokio::sync::broadcast::Receiver<()>,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    spawn_setup("cluster", SETUP_TIMEOUT, stop, async move {
        setup(rpc, &workers).await
    })
}

/// Runs a devnet set-up step (`what`: `cluster`, `computing`) in a thread of its own,
/// bounded by `timeout`; a failure is a warning, not the devnet's end. The thread then
/// waits for `stop`.
pub(crate) fn spawn_setup(
    what: &'static str,
    timeout: Duration,
    mut stop: tokio::sync::broadcast::Receiver<()>,
    step: impl std::future::Future<Output = Result<()>> + Send + 'static,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| phala_node::NodeError::Stopped(format!("{what} set-up: {e}")))?;
        runtime.block_on(async move {
            tokio::select! {
                _ = stop.recv() => return,
                result = tokio::time::timeout(timeout, step) => match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("  warning: the devnet's {what} set-up failed: {e:#}"),
                    Err(_) => eprintln!("  warning: the devnet's {what} set-up did not finish within {timeout:?}"),
                },
            }
            let _ = stop.recv().await;
        });
        Ok(())
    })
}

async fn setup(rpc: SocketAddr, workers: &[String]) -> Result<()> {
    let client = loop {
        match Client::connect(&format!("ws://{rpc}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    // Every worker registered: its identity from its API, its registration from the chain.
    let mut keys = Vec::with_capacity(workers.len());
    for url in workers {
        let api = WorkerApi::new(url)?;
        let key = loop {
            if let Ok(info) = api.info().await
                && let Some(key) = info["pubkey"]
                    .as_str()
                    .and_then(|k| phala_client::primitives::crypto::decode_hex(k).ok())
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                && client.worker(&key).await?.is_some()
            {
                break key;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        keys.push(key);
    }
    while client.master_key_history().await?.is_empty() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let existing = client
        .clusters()
        .await?
        .into_iter()
        .find(|(_, c)| keys.iter().all(|k| c.workers.contains(k)));
    let cluster = match existing {
        Some((id, _)) => id,
        None => create(&client, keys).await?,
    };
    loop {
        if let Some(info) = client.cluster(cluster).await?
            && info.pubkey.is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    crate::outln!("  cluster {cluster} ready: deploy contracts with `phala contract instantiate`");
    Ok(())
}

/// Root's `create_cluster`.
async fn create(client: &Client, workers: Vec<[u8; 32]>) -> Result<phala_client::primitives::H256> {
    let root = Sr25519Pair::from_uri("//Alice").map_err(|e| anyhow!("{e}"))?;
    let call = RuntimeCall::Sudo(sudo::Call::sudo {
        call: Box::new(RuntimeCall::Contracts(contracts::Call::create_cluster {
            workers,
        })),
    });
    submit_retried(client, call, &root, "create_cluster")
        .await?
        .events
        .iter()
        .find_map(|e| match e {
            phala_runtime::RuntimeEvent::Contracts(contracts::Event::ClusterCreated {
                cluster,
                ..
            }) => Some(*cluster),
            _ => None,
        })
        .context("root's create_cluster did not create a cluster")
}

/// Submits `call` signed by a dev account and waits for it, retried: the devnet's workers
/// sign with the same dev accounts, so a nonce can be taken under our feet.
pub(crate) async fn submit_retried(
    client: &Client,
    call: RuntimeCall,
    signer: &Sr25519Pair,
    what: &str,
) -> Result<phala_client::TxOutcome> {
    let mut last = None;
    for _ in 0..10 {
        match client
            .submit_and_wait(call.clone(), signer, TxOptions::default())
            .await
        {
            Ok(outcome) => return Ok(outcome),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(anyhow!(
        "{what} kept failing: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}
