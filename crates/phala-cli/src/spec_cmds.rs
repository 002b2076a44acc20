//! `phala chain-spec`: a spec fit for real hosts by default (live: real keys, no simulated
//! TEEs, no sudo), or a development one with `--dev` (the well-known //Alice… keys).

use std::path::PathBuf;

use anyhow::{Context, bail};
use phala_chain::ChainType;
use phala_chain::dev::LiveSpec;
use phala_client::primitives::{AccountId32, parse_pha};

#[derive(clap::Args)]
pub struct ChainSpecArgs {
    /// A development spec: validators //Alice, //Bob, … (keys known to everyone), simulated
    /// TEEs allowed, //Alice as sudo. Without it the spec is for a live chain.
    #[arg(long)]
    dev: bool,
    /// Development: number of validators, //Alice, //Bob, … in that order.
    #[arg(long, requires = "dev")]
    validators: Option<usize>,
    /// Development: first peer-to-peer port; validator i listens on PORT+i on 127.0.0.1.
    #[arg(long, default_value_t = 30333, requires = "dev")]
    p2p_base_port: u16,
    /// Development: give one validator a real address, `--host //Bob=node2.example.org:30333`.
    /// Repeatable.
    #[arg(long = "host", value_name = "URI=HOST:PORT", requires = "dev")]
    hosts: Vec<String>,
    /// Live: a validator, `STASH=0xCONSENSUS_KEY@HOST:PORT`: its stash account (SS58; it
    /// bonds and pays), its ed25519 consensus public key (`phala key generate --scheme
    /// ed25519`) and where its peers reach it. Repeatable; development keys are refused.
    #[arg(
        long = "validator",
        value_name = "STASH=0xKEY@HOST:PORT",
        conflicts_with = "dev"
    )]
    live_validators: Vec<String>,
    /// Live: each validator's bond in PHA (it is endowed with that and 10 PHA for fees).
    #[arg(long, default_value = "100000", conflicts_with = "dev")]
    bond: String,
    /// Live: an extra genesis balance, `ACCOUNT=PHA`. Repeatable.
    #[arg(long = "balance", value_name = "ACCOUNT=PHA", conflicts_with = "dev")]
    balances: Vec<String>,
    /// Live: a worker measurement allowed at genesis (0x-hex). Repeatable.
    #[arg(long = "measurement", value_name = "0xHEX", conflicts_with = "dev")]
    measurements: Vec<String>,
    /// The chain's name (default: "Phala", or "Phala Local Testnet" with --dev).
    #[arg(long)]
    name: Option<String>,
    /// The chain's id (default: "phala", or "phala_local" with --dev).
    #[arg(long)]
    id: Option<String>,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Block time in milliseconds (default: 1000 for --dev, 6000 otherwise).
    #[arg(long)]
    block_time_ms: Option<u64>,
    /// Blocks per epoch (the committee changes only between epochs).
    #[arg(long)]
    epoch_length: Option<u32>,
}

pub fn chain_spec(args: ChainSpecArgs) -> anyhow::Result<()> {
    let mut spec = if args.dev {
        dev_spec(&args)?
    } else {
        live_spec(&args)?
    };
    if let Some(length) = args.epoch_length {
        spec.epoch_length = length;
    }
    spec.validate()?;
    match &args.out {
        Some(path) => std::fs::write(path, spec.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => crate::outln!("{}", spec.to_json()),
    }
    Ok(())
}

fn dev_spec(args: &ChainSpecArgs) -> anyhow::Result<phala_chain::ChainSpec> {
    let mut spec = crate::args::local_spec(
        args.validators.unwrap_or(1),
        args.p2p_base_port,
        args.block_time_ms
            .unwrap_or(phala_chain::dev::DEV_BLOCK_TIME_MS),
        args.name.as_deref().unwrap_or("Phala Local Testnet"),
        args.id.as_deref().unwrap_or("phala_local"),
        ChainType::Local,
    )?;
    for host in &args.hosts {
        let (uri, address) = host
            .split_once('=')
            .with_context(|| format!("--host {host:?} is not URI=HOST:PORT"))?;
        let account = phala_keys::Sr25519Pair::from_uri(uri)
            .with_context(|| format!("--host {host:?}: {uri:?} is not a secret URI"))?
            .account_id()
            .to_ss58();
        let validator = spec
            .validators
            .iter_mut()
            .find(|v| v.account == account)
            .with_context(|| {
                format!("--host {host:?}: {uri} is not one of the spec's validators")
            })?;
        validator.p2p_address = address.to_string();
    }
    Ok(spec)
}

fn ss58(input: &str, what: &str) -> anyhow::Result<String> {
    let account: AccountId32 = input
        .parse()
        .map_err(|e| anyhow::anyhow!("{what} {input:?} is not an SS58 address: {e}"))?;
    Ok(account.to_ss58())
}

fn live_spec(args: &ChainSpecArgs) -> anyhow::Result<phala_chain::ChainSpec> {
    if args.live_validators.is_empty() {
        bail!(
            "a live spec needs its validators: --validator STASH=0xCONSENSUS_KEY@HOST:PORT \
             (repeatable; make keys with `phala key generate` and `phala key generate \
             --scheme ed25519`). For a development spec with //Alice… pass --dev"
        );
    }
    let validators = args
        .live_validators
        .iter()
        .map(|v| {
            let bad = || anyhow::anyhow!("--validator {v:?} is not STASH=0xKEY@HOST:PORT");
            let (stash, rest) = v.split_once('=').ok_or_else(bad)?;
            let (key, address) = rest.split_once('@').ok_or_else(bad)?;
            let bytes = phala_client::primitives::crypto::decode_hex(key).map_err(|_| {
                anyhow::anyhow!(
                    "--validator {v:?}: the consensus key must be its public key in 0x-hex \
                     (`phala key generate --scheme ed25519` prints it), not an address"
                )
            })?;
            if bytes.len() != 32 {
                bail!("--validator {v:?}: the consensus key must be 32 bytes");
            }
            Ok((
                ss58(stash, "--validator stash")?,
                format!("0x{}", hex::encode(bytes)),
                address.to_string(),
            ))
        })
        .collect::<anyhow::Result<Vec<(String, String, String)>>>()?;
    for (i, (stash, key, address)) in validators.iter().enumerate() {
        for (other_stash, other_key, other_address) in validators.iter().skip(i + 1) {
            if stash == other_stash || key == other_key || address == other_address {
                bail!(
                    "two --validator entries share a stash, a consensus key or an address \
                     ({stash} / {other_stash}): each validator needs its own"
                );
            }
        }
    }
    let balances = args
        .balances
        .iter()
        .map(|b| {
            let (account, amount) = b
                .split_once('=')
                .with_context(|| format!("--balance {b:?} is not ACCOUNT=PHA"))?;
            let amount = parse_pha(amount).map_err(|e| anyhow::anyhow!("--balance {b:?}: {e}"))?;
            Ok((ss58(account, "--balance account")?, amount))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bond = parse_pha(&args.bond).map_err(|e| anyhow::anyhow!("--bond: {e}"))?;
    Ok(phala_chain::dev::live_spec(LiveSpec {
        name: args.name.clone().unwrap_or_else(|| "Phala".into()),
        id: args.id.clone().unwrap_or_else(|| "phala".into()),
        block_time_ms: args.block_time_ms.unwrap_or(6_000),
        validators,
        bond,
        balances,
        measurements: args.measurements.clone(),
    })?)
}
