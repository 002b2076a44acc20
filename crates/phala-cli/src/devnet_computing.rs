//! `phala devnet --workers M --computing`: once each worker has registered and
//! benchmarked, its operator creates a stake pool (one per operator: only a worker's
//! operator may add it to a pool), stakes S_min for it and starts it computing. A devnet
//! resumed from its base path finds its pools and sessions and leaves them as they are.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, anyhow};
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::format_pha;
use phala_client::worker::WorkerApi;
use phala_client::{Client, TxOptions};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::computation::{WorkerState, min_stake};
use phala_runtime::modules::stake_pools::Call;

/// How long the devnet waits for its workers to register, benchmark and start.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);
/// The pools' commission: 10 %.
const COMMISSION: u32 = 100_000_000;

/// Runs the set-up in its own thread, which then waits for `stop`.
pub fn spawn(
    rpc: SocketAddr,
    workers: Vec<(String, String)>,
    stop: tokio::sync::broadcast::Receiver<()>,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    crate::devnet_cluster::spawn_setup("computing", SETUP_TIMEOUT, stop, async move {
        setup(rpc, &workers).await
    })
}

async fn setup(rpc: SocketAddr, workers: &[(String, String)]) -> Result<()> {
    let client = loop {
        match Client::connect(&format!("ws://{rpc}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let params = client.computation_params().await?;
    for (url, operator) in workers {
        let signer = Sr25519Pair::from_uri(&format!("//{operator}")).map_err(|e| anyhow!("{e}"))?;
        // Registered and benchmarked: its key from its API, its score from the chain.
        let api = WorkerApi::new(url)?;
        let (key, score) = loop {
            if let Ok(info) = api.info().await
                && let Some(key) = info["pubkey"]
                    .as_str()
                    .and_then(|k| phala_client::primitives::crypto::decode_hex(k).ok())
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                && let Some(w) = client.worker(&key).await?
                && let Some(score) = w.initial_score
            {
                break (key, score);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let owner = signer.account_id();
        let pid = match client
            .pools()
            .await?
            .into_iter()
            .find(|p| p.pool.owner == owner)
        {
            Some(p) => p.pid,
            None => {
                send(
                    &client,
                    &signer,
                    Call::create {
                        commission: COMMISSION,
                        cap: None,
                    },
                )
                .await?;
                client
                    .pools()
                    .await?
                    .into_iter()
                    .find(|p| p.pool.owner == owner)
                    .map(|p| p.pid)
                    .ok_or_else(|| anyhow!("//{operator}'s pool was not created"))?
            }
        };
        if client.worker_pool(&key).await?.is_none() {
            send(&client, &signer, Call::add_worker { pid, worker: key }).await?;
        }
        let session = client.session(&key).await?;
        if session.is_some_and(|s| s.state != WorkerState::Ready) {
            continue;
        }
        let stake = min_stake(&params, score).map_err(|e| anyhow!("{e:?}"))?;
        let free = client.pool(pid, None).await?.map_or(0, |p| p.free_stake);
        if free < stake {
            let amount = stake - free;
            send(&client, &signer, Call::contribute { pid, amount }).await?;
        }
        send(
            &client,
            &signer,
            Call::start_computing {
                pid,
                worker: key,
                stake,
            },
        )
        .await?;
        crate::outln!(
            "  pool {pid} (//{operator}) computes with {url} (P {score}, stake {}): `phala pools`, `phala computing`",
            format_pha(stake)
        );
    }
    Ok(())
}

/// Submits a pool call, retried: the operator also signs its worker's messages, so a
/// nonce can be taken under our feet.
async fn send(client: &Client, signer: &Sr25519Pair, call: Call) -> Result<()> {
    let call = RuntimeCall::StakePools(call);
    let mut last = None;
    for _ in 0..10 {
        match client
            .submit_and_wait(call.clone(), signer, TxOptions::default())
            .await
        {
            Ok(outcome) => {
                return outcome.result.map_err(|failure| anyhow!("{failure}"));
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(anyhow!(
        "a stake pool call kept failing: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}
