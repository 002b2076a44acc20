//! `phala contract upload|instantiate|call|query BUNDLE` (and `info`, `cancel`), in the
//! manner of cargo-contract:
//! arguments are encoded and results and events decoded by name from the bundle's metadata.
//! Inputs are sealed on this machine; `call` waits until the cluster has run the command
//! and opens its result with a reply key only this process held.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use phala_client::contracts::CommandResult;
use phala_client::primitives::{Balance, H256, format_pha, parse_pha};
use phala_client::worker::{QueryAs, WorkerApi};
use phala_client::{Client, ClientConfig};
use phala_ink_abi::{Bundle, Callable, InkMetadata};
use phala_mq::contracts::CommandStatus;
use phala_runtime::modules::contracts::contract_account;
use serde_json::{Value, json};

use crate::args::{DEFAULT_URL, suri_pair};

/// Gas reserved by default: 1 PHA at the chain's gas price, refunded except what is used.
pub const DEFAULT_GAS: u64 = 1_000_000_000;
/// The first worker of `phala devnet`.
pub const DEFAULT_WORKER: &str = "http://127.0.0.1:8000";

#[derive(Debug, Args)]
pub struct Common {
    /// The contract bundle (`.contract`, or metadata `.json` for call and query).
    pub bundle: PathBuf,
    /// The node's RPC endpoint.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Signed {
    /// Secret URI of the account that signs and pays.
    #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
    pub suri: String,
    /// Gas limit (reserved at the chain's gas price; what is not used is refunded).
    #[arg(long, default_value_t = DEFAULT_GAS)]
    pub gas: u64,
    /// Most PHA the storage this adds may take in deposit (e.g. `1`, `0.5 PHA`).
    #[arg(long, default_value = "10")]
    pub storage_deposit_limit: String,
}

/// The project's example contracts, built from `examples/contracts` (their WAT sources and
/// metadata are there), so a first deployment needs no Rust toolchain or download.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "flipper",
        include_str!("../../../examples/contracts/flipper.contract"),
    ),
    (
        "erc20",
        include_str!("../../../examples/contracts/erc20.contract"),
    ),
    (
        "bridge_requester",
        include_str!("../../../examples/contracts/bridge_requester.contract"),
    ),
    (
        "bridge_answerer",
        include_str!("../../../examples/contracts/bridge_answerer.contract"),
    ),
];

#[derive(Debug, Subcommand)]
pub enum ContractCmd {
    /// Write example contracts to deploy as `.contract` bundles: `flipper` (a boolean to
    /// flip), `erc20` (a token), and `bridge_requester` and `bridge_answerer` (a question
    /// asked of a contract on another chain over the bridge). They speak ink! 4's ABI.
    Example {
        /// Which ones (default: all).
        names: Vec<String>,
        /// The folder to write them to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Replace bundles that exist already.
        #[arg(long)]
        force: bool,
    },
    /// Upload the bundle's code (validated on chain; a code already there is left as is).
    Upload {
        #[command(flatten)]
        common: Common,
        /// Secret URI of the account that signs and pays.
        #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
        suri: String,
    },
    /// Upload the code if needed and instantiate it in a cluster; prints the contract id.
    Instantiate {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        signed: Signed,
        /// The constructor, by label or selector (default: `new`, `default` or the first).
        #[arg(long)]
        constructor: Option<String>,
        /// The constructor's arguments, e.g. `--args 1000 true "0x…" Some(5)`.
        #[arg(long, num_args = 0..)]
        args: Vec<String>,
        /// Salt (0x-hex or text) making the contract id unique.
        #[arg(long, default_value = "")]
        salt: String,
        /// The cluster (0x-hex); default: the only cluster, as `phala devnet` makes.
        #[arg(long)]
        cluster: Option<String>,
        /// Print only the contract id (e.g. `C=$(phala contract instantiate … -q)`).
        #[arg(short, long, conflicts_with = "json")]
        quiet: bool,
    },
    /// Push an encrypted command and wait until the cluster has run it.
    Call {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        signed: Signed,
        /// The contract id (0x-hex or SS58).
        #[arg(long)]
        contract: String,
        /// The message, by label or selector.
        #[arg(long)]
        message: String,
        /// The message's arguments, e.g. `--args 1000 true "0x…" Some(5)`.
        #[arg(long, num_args = 0..)]
        args: Vec<String>,
    },
    /// What the chain knows of a contract: code, cluster, deployer, status, public keys, and
    /// its account (the existential deposit and the storage deposit it holds).
    Info {
        /// The contract id (0x-hex or SS58).
        #[arg(long)]
        contract: String,
        /// The node's RPC endpoint.
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Give up a command its cluster has not reported for 100 blocks. The cluster may have
    /// run it: its whole gas limit is paid, and its storage deposit limit is forfeited to the
    /// treasury (an instantiation's comes back).
    Cancel {
        /// The command's number, as `call` and `instantiate` print it.
        #[arg(long)]
        command: u64,
        /// Secret URI of the account that sent the command.
        #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
        suri: String,
        /// The node's RPC endpoint.
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
    /// Query a contract on a worker of its cluster; prints the decoded result.
    Query {
        #[command(flatten)]
        common: Common,
        /// The contract id (0x-hex or SS58).
        #[arg(long)]
        contract: String,
        /// The message, by label or selector.
        #[arg(long)]
        message: String,
        /// The message's arguments, e.g. `--args 1000 true "0x…" Some(5)`.
        #[arg(long, num_args = 0..)]
        args: Vec<String>,
        /// Sign the query as this account (the contract sees it as its caller).
        #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
        suri: Option<String>,
        /// The worker to ask.
        #[arg(long, default_value = DEFAULT_WORKER)]
        worker: String,
    },
}

/// A contract id as `0x` hex or as the SS58 address contracts themselves hand out (an
/// `AccountId` returned by a factory, say).
fn contract_id(input: &str) -> Result<H256> {
    phala_primitives::ss58::parse_account(input)
        .map(H256)
        .map_err(|e| anyhow!("--contract {input:?}: {e} (give 0x and 64 hex digits, or SS58)"))
}

fn load(path: &std::path::Path) -> Result<Bundle> {
    Bundle::load(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

async fn connect(url: &str) -> Result<Client> {
    crate::args::connect(url, ClientConfig::default().finality_timeout).await
}

fn deposit(input: &str) -> Result<Balance> {
    parse_pha(input).map_err(|e| anyhow!("--storage-deposit-limit {input:?}: {e}"))
}

fn salt(input: &str) -> Vec<u8> {
    phala_client::primitives::crypto::decode_hex(input)
        .ok()
        .filter(|_| input.starts_with("0x"))
        .unwrap_or_else(|| input.as_bytes().to_vec())
}

fn encode(metadata: &InkMetadata, callable: &Callable, args: &[String]) -> Result<Vec<u8>> {
    metadata
        .encode_call(callable, args)
        .map_err(|e| anyhow!("{}: {e}", callable.label))
}

fn events_json(metadata: &InkMetadata, events: &[(Vec<[u8; 32]>, Vec<u8>)]) -> Vec<Value> {
    events
        .iter()
        .map(|(topics, data)| match metadata.decode_event(topics, data) {
            Ok((name, fields)) => json!({ "event": name, "fields": fields }),
            Err(e) => {
                json!({ "undecoded": format!("0x{}", hex::encode(data)), "error": e.to_string() })
            }
        })
        .collect()
}

fn report(metadata: &InkMetadata, callable: Option<&Callable>, result: &CommandResult) -> Value {
    let output = result.output.as_ref().map(|o| {
        let decoded = callable
            .filter(|_| o.error.is_none())
            .map(|c| match metadata.decode_return(c, &o.data) {
                Ok(v) => v,
                Err(e) => json!({ "undecoded": format!("0x{}", hex::encode(&o.data)), "error": e.to_string() }),
            });
        json!({
            "reverted": o.flags & 1 == 1,
            "result": decoded,
            "error": o.error,
            "events": events_json(metadata, &o.events),
        })
    });
    json!({
        "command": result.command,
        "contract": result.contract.to_string(),
        "status": format!("{:?}", result.status),
        "gasUsed": result.gas_used,
        "fee": format_pha(result.fee),
        "storageDeposit": format_pha(result.storage_deposit),
        "storageRefunded": format_pha(result.storage_refunded),
        "reportedInBlock": result.reported_in,
        "output": output,
    })
}

/// A command's [`report`] as text: what `call` prints, and the tail of `instantiate`'s.
fn report_text(value: &Value) -> String {
    let plain = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut text = format!(
        "command {}: {}, gas used {}, fee {}",
        value["command"],
        plain(&value["status"]),
        value["gasUsed"],
        plain(&value["fee"])
    );
    if let Some(output) = value.get("output").filter(|o| !o.is_null()) {
        if output["reverted"] == Value::Bool(true) {
            text.push_str(" (reverted)");
        }
        if !output["result"].is_null() {
            text.push_str(&format!("\n  result: {}", output["result"]));
        }
        if !output["error"].is_null() {
            text.push_str(&format!("\n  error: {}", plain(&output["error"])));
        }
        for event in output["events"].as_array().into_iter().flatten() {
            text.push_str(&format!("\n  event: {event}"));
        }
    }
    text
}

fn print(json_out: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_out {
        crate::outln!("{value:#}");
    } else {
        crate::outln!("{}", text());
    }
}

/// Refuses a contract id the chain does not know (mistyped, or an account's address) and a
/// bundle of other code: its ABI would encode the call and decode the answer wrongly, and the
/// contract's refusal (`CouldNotReadInput`) would print as if it were the answer.
async fn check_bundle(client: &Client, id: H256, bundle: &Bundle) -> Result<()> {
    let record = client
        .contract(id)
        .await?
        .ok_or_else(|| anyhow!("no contract {id} on chain (mistyped, or never instantiated)"))?;
    if let Some(hash) = bundle.code_hash()
        && H256(hash) != record.code_hash
    {
        bail!(
            "contract {id} runs code {}, but this bundle holds code {}: use the contract's own \
             bundle (or, for a rebuild of the same contract, its metadata .json alone)",
            record.code_hash,
            H256(hash)
        );
    }
    Ok(())
}

/// `phala contract example`: checks every name and every target before writing anything.
fn write_examples(names: &[String], out: &std::path::Path, force: bool) -> Result<()> {
    let known = || {
        EXAMPLES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut chosen = Vec::new();
    if names.is_empty() {
        chosen.extend(EXAMPLES.iter());
    }
    for name in names {
        let name = name.trim_end_matches(".contract");
        let example = EXAMPLES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| anyhow!("no example contract {name:?} (there are: {})", known()))?;
        if !chosen.contains(&example) {
            chosen.push(example);
        }
    }
    if out.exists() && !out.is_dir() {
        bail!("{} is not a folder", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot make {}", out.display()))?;
    for (name, _) in &chosen {
        let path = out.join(format!("{name}.contract"));
        if path.exists() && !force {
            bail!(
                "{} exists already (pass --force to replace it)",
                path.display()
            );
        }
    }
    for (name, text) in chosen {
        let path = out.join(format!("{name}.contract"));
        write_new(&path, text, force).with_context(|| format!("writing {}", path.display()))?;
        crate::outln!("{}", path.display());
    }
    Ok(())
}

/// Writes `text` to `path` as a new file, never through a symlink or a file that appeared
/// since the check; `replace` removes what is there first (a symlink itself, not its target).
fn write_new(path: &std::path::Path, text: &str, replace: bool) -> std::io::Result<()> {
    use std::io::Write;
    if replace {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}

pub async fn run(cmd: ContractCmd) -> Result<()> {
    match cmd {
        ContractCmd::Example { names, out, force } => write_examples(&names, &out, force),
        ContractCmd::Upload { common, suri } => {
            let bundle = load(&common.bundle)?;
            let wasm = bundle.wasm.clone().context(
                "this file has no code (a .json holds only metadata); use the .contract bundle",
            )?;
            phala_vm::validate(&wasm).map_err(|e| anyhow!("the code is refused: {e}"))?;
            let client = connect(&common.url).await?;
            let (hash, new) = client.upload_code(&suri_pair(&suri)?, wasm).await?;
            let value = json!({ "codeHash": hash.to_string(), "uploaded": new });
            print(common.json, &value, || {
                if new {
                    format!("Code {hash} uploaded.")
                } else {
                    format!("Code {hash} was already uploaded.")
                }
            });
            Ok(())
        }
        ContractCmd::Instantiate {
            common,
            signed,
            constructor,
            args,
            salt: salt_arg,
            cluster,
            quiet,
        } => {
            let bundle = load(&common.bundle)?;
            let metadata = &bundle.metadata;
            let callable = match &constructor {
                Some(name) => metadata.constructor(name).map_err(|e| anyhow!("{e}"))?,
                None => metadata
                    .default_constructor()
                    .context("the bundle has no constructor")?,
            };
            let input = encode(metadata, callable, &args)?;
            let signer = suri_pair(&signed.suri)?;
            let client = connect(&common.url).await?;
            let cluster = crate::args::pick_cluster(&client, cluster.as_deref()).await?;
            let code_hash = match bundle.code_hash() {
                Some(hash) if client.code_uploaded(H256(hash)).await? => H256(hash),
                _ => {
                    let wasm = bundle.wasm.clone().context(
                        "the code is not uploaded and this file has none; use the .contract bundle",
                    )?;
                    phala_vm::validate(&wasm).map_err(|e| anyhow!("the code is refused: {e}"))?;
                    client.upload_code(&signer, wasm).await?.0
                }
            };
            // The id does not depend on the constructor's input: refuse a taken one here,
            // before a fee is paid for the chain to refuse it.
            let salt_bytes = salt(&salt_arg);
            let id = phala_runtime::modules::contracts::contract_id(
                &signer.account_id(),
                &code_hash,
                &cluster,
                &salt_bytes,
            );
            if client.contract(id).await?.is_some() {
                bail!(
                    "you deployed this code in this cluster with this salt already (contract \
                     {id}); the id depends on the deployer, code, cluster and salt, not on the \
                     constructor's arguments: pass --salt to make another"
                );
            }
            let result = client
                .instantiate(
                    &signer,
                    code_hash,
                    input,
                    salt_bytes,
                    cluster,
                    signed.gas,
                    deposit(&signed.storage_deposit_limit)?,
                )
                .await
                .map_err(|e| {
                    let text = e.to_string();
                    let e = anyhow::Error::from(e);
                    if text.contains("ContractExists") {
                        e.context(
                            "a contract with this deployer, code, cluster and salt exists \
                             already: pass --salt to make another",
                        )
                    } else {
                        e
                    }
                })?;
            let value = report(metadata, None, &result);
            if quiet && result.status == CommandStatus::Success {
                crate::outln!("{}", result.contract);
                return Ok(());
            }
            if quiet {
                // `C=$(… -q)` captures the id only: a failure's report goes to stderr.
                eprintln!("{}", report_text(&value));
            } else {
                print(common.json, &value, || {
                    format!(
                        "Contract {}\n  code {code_hash}, cluster {cluster}\n  {}",
                        result.contract,
                        report_text(&value)
                    )
                });
            }
            if result.status != CommandStatus::Success {
                bail!(
                    "the constructor did not succeed ({:?}){}",
                    result.status,
                    result
                        .output
                        .and_then(|o| o.error)
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        ContractCmd::Call {
            common,
            signed,
            contract,
            message,
            args,
        } => {
            let bundle = load(&common.bundle)?;
            let metadata = &bundle.metadata;
            let callable = metadata.message(&message).map_err(|e| anyhow!("{e}"))?;
            let input = encode(metadata, callable, &args)?;
            let client = connect(&common.url).await?;
            let result = client
                .call_contract(
                    &suri_pair(&signed.suri)?,
                    contract_id(&contract)?,
                    input,
                    signed.gas,
                    deposit(&signed.storage_deposit_limit)?,
                )
                .await?;
            let value = report(metadata, Some(callable), &result);
            print(common.json, &value, || report_text(&value));
            match result.status {
                CommandStatus::Success | CommandStatus::Reverted => Ok(()),
                other => bail!("the command failed: {other:?}"),
            }
        }
        ContractCmd::Info {
            contract,
            url,
            json: json_out,
        } => {
            let id = contract_id(&contract)?;
            let client = connect(&url).await?;
            let record = client.contract(id).await?.ok_or_else(|| {
                anyhow!("no contract {id} on chain (never instantiated, or terminated)")
            })?;
            let account = client.account(&contract_account(&id)).await?.data;
            let hex32 = |k: Option<[u8; 32]>| k.map(|k| format!("0x{}", hex::encode(k)));
            let value = json!({
                "contract": id.to_string(),
                "codeHash": record.code_hash.to_string(),
                "cluster": record.cluster.to_string(),
                "deployer": record.deployer.to_ss58(),
                "status": format!("{:?}", record.status),
                "pubkey": hex32(record.pubkey),
                "ecdhPubkey": hex32(record.ecdh_pubkey),
                "storageDeposit": format_pha(record.storage_deposit),
                "account": {
                    "free": format_pha(account.free),
                    "reserved": format_pha(account.reserved),
                },
            });
            print(json_out, &value, || {
                let key = |k: &Value| k.as_str().unwrap_or("not yet derived").to_string();
                format!(
                    "Contract {id} ({:?})\n  code {}, cluster {}\n  deployed by {}\n  key {} (ECDH {})\n  storage deposit {}, account free {}",
                    record.status,
                    record.code_hash,
                    record.cluster,
                    record.deployer.to_ss58(),
                    key(&value["pubkey"]),
                    key(&value["ecdhPubkey"]),
                    format_pha(record.storage_deposit),
                    format_pha(account.free),
                )
            });
            Ok(())
        }
        ContractCmd::Cancel { command, suri, url } => {
            let client = connect(&url).await?;
            let block = client.cancel_command(&suri_pair(&suri)?, command).await?;
            crate::outln!(
                "Command {command} cancelled in block #{block}: its gas limit is paid and its \
                 storage deposit limit forfeited to the treasury (an instantiation's comes back)."
            );
            Ok(())
        }
        ContractCmd::Query {
            common,
            contract,
            message,
            args,
            suri,
            worker,
        } => {
            let bundle = load(&common.bundle)?;
            let metadata = &bundle.metadata;
            let callable = metadata.message(&message).map_err(|e| anyhow!("{e}"))?;
            if callable.mutates {
                // A query runs on a snapshot and keeps nothing: say so before it looks done.
                eprintln!(
                    "note: `{}` changes the contract's state; a query's changes are discarded \
                     (`phala contract call` runs it as a command)",
                    callable.label
                );
            }
            let input = encode(metadata, callable, &args)?;
            let client = connect(&common.url).await?;
            let api = WorkerApi::new(&worker)?;
            let account = suri.as_deref().map(suri_pair).transpose()?;
            let signer = match &account {
                Some(a) => QueryAs::Account(a),
                None => QueryAs::Anonymous,
            };
            let id = contract_id(&contract)?;
            check_bundle(&client, id, &bundle).await?;
            let (height, result) = api.query_contract(&client, id, input, signer).await?;
            let decoded = metadata
                .decode_return(callable, &result.data)
                .map_err(|e| anyhow!("the result does not decode: {e}"))?;
            let value = json!({
                "result": decoded,
                "reverted": result.flags & 1 == 1,
                "gasUsed": result.gas_used,
                "height": height,
                "debug": (!result.debug_message.is_empty()).then_some(result.debug_message),
            });
            // The result alone is what scripts want; --json adds the rest.
            if common.json {
                crate::outln!("{value:#}");
            } else {
                crate::outln!("{:#}", value["result"]);
            }
            Ok(())
        }
    }
}
