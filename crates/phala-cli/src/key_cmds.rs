//! `phala gatekeepers`, `phala gatekeeper add|rotate`, `phala clusters`, `phala cluster
//! create` and `phala query`: the network's keys as users and root see them.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use phala_client::worker::{QueryAs, WorkerApi, certify_session, decode_caller};
use phala_client::{Client, ClientConfig};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::{contracts, registry};
use serde_json::json;

use crate::args::{DEFAULT_URL, as_root, suri_pair};

pub use crate::args::ListArgs;

#[derive(Debug, Args)]
pub struct RootArgs {
    /// The node's RPC endpoint.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Secret URI of the sudo key (until governance exists).
    #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
    pub suri: String,
}

#[derive(Debug, Subcommand)]
pub enum GatekeeperCmd {
    /// Make a registered worker a gatekeeper (root).
    Add {
        /// The worker's identity key (0x-hex).
        pubkey: String,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Stop a worker being a gatekeeper; its TEE erases its master keys (root). Rotate
    /// the master key afterwards.
    Remove {
        /// The worker's identity key (0x-hex).
        pubkey: String,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Replace the master key; gatekeepers keep the old ones (root). Waits until a
    /// gatekeeper has proposed the new key.
    Rotate {
        #[command(flatten)]
        root: RootArgs,
        /// Seconds to wait for a gatekeeper's proposal (1 to 86400).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Give up a requested rotation that no gatekeeper completed (root).
    CancelRotation {
        #[command(flatten)]
        root: RootArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Create a cluster of registered workers (root); prints its id.
    Create {
        /// The workers' identity keys (0x-hex), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        workers: Vec<String>,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Add a registered worker to a cluster whose key is out (root). It gets the key from
    /// the gatekeepers, then the cluster's state from a member (`phala worker
    /// --cluster-peer`), and joins the reporting turns. On a live chain, propose
    /// `contracts.addClusterWorker` with `phala gov submit --track root`.
    AddWorker {
        /// The cluster's id (0x-hex); default: the only cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// The worker's identity key (0x-hex).
        #[arg(long)]
        worker: String,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Take a worker out of its cluster (root); a cluster keeps at least one member. The
    /// worker is told to erase the cluster's key and state. On a live chain, propose
    /// `contracts.removeClusterWorker` with `phala gov submit --track root`.
    RemoveWorker {
        /// The worker's identity key (0x-hex).
        #[arg(long)]
        worker: String,
        #[command(flatten)]
        root: RootArgs,
    },
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The node's RPC endpoint: the worker's identity and the answer's block are checked
    /// against it.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// The worker's HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub worker: String,
    /// The contract (0x-hex id); default: the worker itself, which answers with the caller
    /// it saw.
    #[arg(long)]
    pub contract: Option<String>,
    /// The query's payload (0x-hex).
    #[arg(long, default_value = "0x")]
    pub payload: String,
    /// Sign the query with this account (secret URI); default: anonymous.
    #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
    pub suri: Option<String>,
    /// Sign with a fresh session key that --suri certifies for this many blocks, instead of
    /// with --suri itself.
    #[arg(long, requires = "suri")]
    pub session_blocks: Option<u32>,
    /// Refuse to query unless the worker at --worker has this identity key (0x-hex): its
    /// /info is not trusted to say which worker it is.
    #[arg(long)]
    pub expect_worker: Option<String>,
}

fn hex32(what: &str, input: &str) -> Result<[u8; 32]> {
    phala_primitives::crypto::decode_hex(input)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| anyhow!("{what} {input:?} is not 32 bytes of 0x-hex"))
}

async fn connect(url: &str) -> Result<Client> {
    crate::args::connect(url, ClientConfig::default().finality_timeout).await
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// `phala gatekeepers`: the gatekeepers and the master key's public history.
pub async fn run_gatekeepers(args: ListArgs) -> Result<()> {
    let client = connect(&args.url).await?;
    let gatekeepers = client.gatekeepers().await?;
    let history = client.master_key_history().await?;
    let pending = client.pending_rotation().await?;
    if args.json {
        crate::outln!(
            "{:#}",
            json!({
                "gatekeepers": gatekeepers.iter().map(|g| hex(g)).collect::<Vec<_>>(),
                "masterPubkey": history.last().map(|r| hex(&r.pubkey)),
                "masterKeyVersion": history.last().map(|r| r.version),
                "masterKeyHistory": history.iter().map(|r| json!({
                    "version": r.version,
                    "pubkey": hex(&r.pubkey),
                    "ecdhPubkey": hex(&r.ecdh_pubkey),
                    "since": r.since,
                })).collect::<Vec<_>>(),
                "pendingRotation": pending,
            })
        );
        return Ok(());
    }
    if gatekeepers.is_empty() {
        crate::outln!("No gatekeepers.");
    }
    for g in &gatekeepers {
        crate::outln!("gatekeeper {}", hex(g));
    }
    match history.last() {
        Some(r) => crate::outln!(
            "master key: version {} {} (since #{})",
            r.version,
            hex(&r.pubkey),
            r.since
        ),
        None => crate::outln!("master key: not generated yet"),
    }
    for r in history.iter().rev().skip(1) {
        crate::outln!("  earlier: version {} {}", r.version, hex(&r.pubkey));
    }
    if let Some(v) = pending {
        crate::outln!("rotation to version {v} requested; waiting for a gatekeeper");
    }
    Ok(())
}

/// `phala gatekeeper add|rotate`.
pub async fn run_gatekeeper(cmd: GatekeeperCmd) -> Result<()> {
    match cmd {
        GatekeeperCmd::Add { pubkey, root } => {
            let pubkey = hex32("worker key", &pubkey)?;
            let client = connect(&root.url).await?;
            as_root(
                &client,
                &root.suri,
                RuntimeCall::Registry(registry::Call::register_gatekeeper { pubkey }),
            )
            .await?;
            crate::outln!("0x{} is a gatekeeper.", hex::encode(pubkey));
        }
        GatekeeperCmd::Remove { pubkey, root } => {
            let pubkey = hex32("worker key", &pubkey)?;
            let client = connect(&root.url).await?;
            as_root(
                &client,
                &root.suri,
                RuntimeCall::Registry(registry::Call::remove_gatekeeper { pubkey }),
            )
            .await?;
            crate::outln!(
                "0x{} is no longer a gatekeeper; rotate the master key next (`phala gatekeeper rotate`).",
                hex::encode(pubkey)
            );
        }
        GatekeeperCmd::CancelRotation { root } => {
            let client = connect(&root.url).await?;
            as_root(
                &client,
                &root.suri,
                RuntimeCall::Registry(registry::Call::cancel_master_key_rotation),
            )
            .await?;
            crate::outln!("The pending rotation is cancelled.");
        }
        GatekeeperCmd::Rotate { root, timeout } => {
            let client = connect(&root.url).await?;
            let events = as_root(
                &client,
                &root.suri,
                RuntimeCall::Registry(registry::Call::rotate_master_key),
            )
            .await?;
            let version = events.iter().find_map(|e| match e {
                phala_runtime::RuntimeEvent::Registry(
                    registry::Event::MasterKeyRotationRequested { version },
                ) => Some(*version),
                _ => None,
            });
            let version = version.context("the chain did not report the rotation")?;
            // Bounded wait for the first gatekeeper's proposal.
            let start = std::time::Instant::now();
            loop {
                let history = client.master_key_history().await?;
                if let Some(r) = history.iter().find(|r| r.version == version) {
                    crate::outln!(
                        "Master key rotated to version {version}: {}",
                        hex(&r.pubkey)
                    );
                    return Ok(());
                }
                if start.elapsed() > Duration::from_secs(timeout) {
                    bail!(
                        "rotation to version {version} requested, but no gatekeeper proposed a \
                         key within {timeout} s; `phala gatekeepers` shows when one does, and \
                         `phala gatekeeper cancel-rotation` gives it up"
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Ok(())
}

/// `phala clusters`.
pub async fn run_clusters(args: ListArgs) -> Result<()> {
    let client = connect(&args.url).await?;
    let clusters = client.clusters().await?;
    if args.json {
        let mut list = Vec::with_capacity(clusters.len());
        for (id, c) in &clusters {
            let joining: Vec<_> = client
                .joining(*id)
                .await?
                .iter()
                .map(|j| json!({"worker": hex(&j.worker), "addedAt": j.added_at, "keyed": j.keyed}))
                .collect();
            list.push(json!({
                "id": id.to_string(),
                "workers": c.workers.iter().map(|w| hex(w)).collect::<Vec<_>>(),
                "joining": joining,
                "masterKeyVersion": c.master_version,
                "pubkey": c.pubkey.map(|k| hex(&k)),
                "ecdhPubkey": c.ecdh_pubkey.map(|k| hex(&k)),
                "createdAt": c.created_at,
            }));
        }
        crate::outln!("{:#}", json!(list));
        return Ok(());
    }
    if clusters.is_empty() {
        crate::outln!("No clusters.");
    }
    for (id, c) in &clusters {
        crate::outln!("cluster {id}");
        crate::outln!(
            "  key:     {}",
            c.pubkey
                .map(|k| hex(&k))
                .unwrap_or_else(|| "waiting for the gatekeepers".into())
        );
        for w in &c.workers {
            crate::outln!("  worker:  {}", hex(w));
        }
        for j in client.joining(*id).await? {
            crate::outln!(
                "  joining: {} (added at #{}; {})",
                hex(&j.worker),
                j.added_at,
                if j.keyed {
                    "has the key, waiting for a member's state"
                } else {
                    "waiting for the gatekeepers' key"
                }
            );
        }
    }
    Ok(())
}

/// How long `phala cluster create` waits for the gatekeepers to deliver the key.
const CLUSTER_KEY_WAIT: Duration = Duration::from_secs(60);

/// `phala cluster create|add-worker|remove-worker`.
pub async fn run_cluster(cmd: ClusterCmd) -> Result<()> {
    let (workers, root) = match cmd {
        ClusterCmd::Create { workers, root } => (workers, root),
        ClusterCmd::AddWorker {
            cluster,
            worker,
            root,
        } => {
            let worker = hex32("--worker", &worker)?;
            let client = connect(&root.url).await?;
            let cluster = crate::args::pick_cluster(&client, cluster.as_deref()).await?;
            as_root(
                &client,
                &root.suri,
                RuntimeCall::Contracts(contracts::Call::add_cluster_worker { cluster, worker }),
            )
            .await?;
            crate::outln!(
                "0x{} added to cluster {cluster}: the gatekeepers deliver it the key, then it \
                 needs a member's state (run it with --cluster-peer http://<a member's API>); \
                 `phala clusters` lists it as joining until it holds the state.",
                hex::encode(worker)
            );
            return Ok(());
        }
        ClusterCmd::RemoveWorker { worker, root } => {
            let worker = hex32("--worker", &worker)?;
            let client = connect(&root.url).await?;
            as_root(
                &client,
                &root.suri,
                RuntimeCall::Contracts(contracts::Call::remove_cluster_worker { worker }),
            )
            .await?;
            crate::outln!("0x{} left its cluster.", hex::encode(worker));
            return Ok(());
        }
    };
    let workers = workers
        .iter()
        .map(|w| hex32("worker key", w))
        .collect::<Result<Vec<_>>>()?;
    let client = connect(&root.url).await?;
    let events = as_root(
        &client,
        &root.suri,
        RuntimeCall::Contracts(contracts::Call::create_cluster { workers }),
    )
    .await?;
    let cluster = events
        .iter()
        .find_map(|e| match e {
            phala_runtime::RuntimeEvent::Contracts(contracts::Event::ClusterCreated {
                cluster,
                ..
            }) => Some(*cluster),
            _ => None,
        })
        .context("the chain did not report the cluster")?;
    // Bounded wait for the gatekeepers' key: contracts and new members need it.
    let start = std::time::Instant::now();
    while start.elapsed() < CLUSTER_KEY_WAIT {
        if let Some(key) = client.cluster(cluster).await?.and_then(|c| c.pubkey) {
            crate::outln!("Cluster {cluster} created; its key is {}.", hex(&key));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    crate::outln!(
        "Cluster {cluster} created; the gatekeepers have not delivered its key within {} s \
         (`phala clusters` shows it once they do).",
        CLUSTER_KEY_WAIT.as_secs()
    );
    Ok(())
}

/// `phala query`: an encrypted, signed query to a worker, its reply checked end to end.
pub async fn run_query(args: QueryArgs) -> Result<()> {
    let client = connect(&args.url).await?;
    let mut api = WorkerApi::new(&args.worker)?;
    if let Some(expected) = &args.expect_worker {
        api = api.expecting(hex32("--expect-worker", expected)?);
    }
    let contract = match &args.contract {
        Some(c) => H256(hex32("--contract", c)?),
        None => phala_client::crypto::query::WORKER_ITSELF,
    };
    let payload = phala_primitives::crypto::decode_hex(&args.payload)
        .map_err(|_| anyhow!("--payload {:?} is not 0x-hex", args.payload))?;
    let account = args.suri.as_deref().map(suri_pair).transpose()?;
    let session = match (&account, args.session_blocks) {
        (Some(account), Some(blocks)) => {
            let (key, _) = Sr25519Pair::generate().map_err(|e| anyhow!("{e}"))?;
            let (head, _) = client.finalized_head().await?;
            let certificate = certify_session(
                &client.genesis_hash(),
                account,
                key.public(),
                head.saturating_add(blocks),
            );
            Some((key, certificate))
        }
        _ => None,
    };
    let signer = match (&account, &session) {
        (_, Some((key, certificate))) => QueryAs::Session {
            key,
            certificate: certificate.clone(),
        },
        (Some(account), None) => QueryAs::Account(account),
        (None, _) => QueryAs::Anonymous,
    };
    let reply = api.query(&client, contract, payload, signer).await?;
    let (finalized, _) = client.finalized_head().await?;
    let answer = match &reply.answer {
        Ok(bytes) if contract == phala_client::crypto::query::WORKER_ITSELF => {
            let caller = decode_caller(bytes).map_err(|e| anyhow!("the answer: {e}"))?;
            json!({ "caller": caller.map(|c| c.to_ss58()) })
        }
        Ok(bytes) => json!({ "ok": hex(bytes) }),
        Err(e) => json!({ "error": e }),
    };
    let registration = client.worker(&reply.worker).await?;
    crate::outln!(
        "{:#}",
        json!({
            "worker": hex(&reply.worker),
            "tee": registration.as_ref().map(|w| w.tee.as_str()),
            "confidenceLevel": registration.as_ref().map(|w| w.confidence_level),
            "height": reply.height,
            "blockHash": reply.block_hash.to_string(),
            "behindFinalized": finalized.saturating_sub(reply.height),
            "answer": answer,
        })
    );
    if let Err(e) = &reply.answer {
        bail!("the worker refused the query: {e}");
    }
    Ok(())
}
