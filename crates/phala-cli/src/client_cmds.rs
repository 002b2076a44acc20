//! Client-side commands: `phala key`, `phala balance` and `phala transfer`, thin layers over
//! `phala-keys` and the `phala-client` SDK. Every error is one sentence for `main` to print.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use phala_client::keys::{Ed25519Pair, KeyError, Sr25519Pair};
use phala_client::primitives::ss58::{self, Ss58Error};
use phala_client::primitives::{SS58_PREFIX, format_pha};
use phala_client::{ClientConfig, TxOptions, TxStatus, transfer_call};
use serde_json::json;

use crate::args::{
    DEFAULT_URL, address_error, connect, is_secret_uri, parse_amount, resolve_account, signer,
};

/// Where a local node serves RPC.
/// Substrate's generic address prefix, used by polkadot.js and subxt by default.
const SUBSTRATE_PREFIX: u16 = 42;

/// Signature schemes of keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    /// Accounts (what wallets use).
    #[default]
    Sr25519,
    /// Consensus keys of validators.
    Ed25519,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Generate a new random key: prints its secret phrase, public key and addresses.
    Generate {
        /// Key scheme.
        #[arg(long, value_enum, default_value_t = Scheme::Sr25519)]
        scheme: Scheme,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the public key and addresses of a secret URI or of a public address.
    Inspect {
        /// A secret URI (`//Alice`, `<phrase>//hard/soft///password`), a public address (SS58
        /// of any prefix) or a 0x public key. `0x` and 64 hex digits read as a public key;
        /// pass --secret to read them as a secret seed.
        uri: String,
        /// Key scheme of a secret URI.
        #[arg(long, value_enum, default_value_t = Scheme::Sr25519)]
        scheme: Scheme,
        /// Read the input as a public key or address, never as a secret.
        #[arg(long, conflicts_with = "secret")]
        public: bool,
        /// Read the input as a secret (needed for a 0x secret seed, which otherwise reads as
        /// a public key).
        #[arg(long)]
        secret: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// The account: an SS58 address (any prefix), 0x followed by the 64-hex-digit public
    /// key, or a secret URI such as //Alice.
    pub account: String,
    /// The node's RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON (amounts in the smallest unit, 10^-12 PHA) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Secret URI of the sender, e.g. //Alice or "<12 words>//hard///password" (--suri is
    /// the same flag, as in every other command).
    #[arg(long, visible_alias = "suri")]
    pub from: String,
    /// The recipient: an SS58 address (any prefix), a 0x public key, or a secret URI such as
    /// //Bob.
    pub to: String,
    /// The amount in PHA: "1.5", "1.5 PHA" or "0.000000000001" (at most 12 decimals).
    pub amount: String,
    /// Allow the transfer to leave the sender below the existential deposit (0.01 PHA),
    /// which removes the account and burns the remainder (`transfer_allow_death`). Without
    /// it, `transfer_keep_alive` is used, which fails instead.
    #[arg(long)]
    pub allow_death: bool,
    /// A tip for priority, in PHA.
    #[arg(long)]
    pub tip: Option<String>,
    /// The nonce to sign with (default: the account's next, counting pending transactions).
    #[arg(long)]
    pub nonce: Option<u32>,
    /// The node's RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Seconds to wait for the transfer to be finalized (1 to 86400).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// `phala key generate | inspect`.
pub fn run_key(cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Generate { scheme, json } => generate(scheme, json),
        KeyCmd::Inspect {
            uri,
            scheme,
            public,
            secret,
            json,
        } => inspect(&uri, scheme, reading(&uri, public, secret), json),
    }
}

/// The public facts about a key, as `subkey` prints them.
struct KeyReport {
    scheme: Option<Scheme>,
    public: [u8; 32],
    /// The SS58 prefix the input was written with, for public inputs.
    input_prefix: Option<u16>,
    /// The seed of an ed25519 key (its private key); sr25519 pairs do not expose theirs.
    secret_seed: Option<String>,
}

impl KeyReport {
    fn json(&self) -> serde_json::Value {
        let public = format!("0x{}", hex::encode(self.public));
        let mut v = json!({
            "networkId": "phala",
            "ss58Prefix": SS58_PREFIX,
            "publicKey": public,
            "accountId": public,
            "ss58Address": ss58::encode(&self.public, SS58_PREFIX),
            "substrateAddress": ss58::encode(&self.public, SUBSTRATE_PREFIX),
        });
        if let Some(scheme) = self.scheme {
            v["scheme"] = json!(scheme_name(scheme));
        }
        if let Some(prefix) = self.input_prefix {
            v["inputPrefix"] = json!(prefix);
        }
        if let Some(seed) = &self.secret_seed {
            v["secretSeed"] = json!(seed);
        }
        v
    }

    fn print(&self) {
        let public = format!("0x{}", hex::encode(self.public));
        crate::outln!("  Network ID:        phala (SS58 prefix {SS58_PREFIX})");
        if let Some(scheme) = self.scheme {
            crate::outln!("  Scheme:            {}", scheme_name(scheme));
        }
        if let Some(prefix) = self.input_prefix {
            crate::outln!("  Input prefix:      {prefix}");
        }
        if let Some(seed) = &self.secret_seed {
            crate::outln!("  Secret seed:       {seed}");
        }
        crate::outln!("  Public key (hex):  {public}");
        crate::outln!("  Account ID:        {public}");
        crate::outln!(
            "  SS58 Address:      {}",
            ss58::encode(&self.public, SS58_PREFIX)
        );
        crate::outln!(
            "  Substrate address: {} (generic prefix {SUBSTRATE_PREFIX})",
            ss58::encode(&self.public, SUBSTRATE_PREFIX)
        );
    }
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Sr25519 => "sr25519",
        Scheme::Ed25519 => "ed25519",
    }
}

/// The public key (and, for ed25519, the seed) of a secret URI.
fn key_of(uri: &str, scheme: Scheme) -> std::result::Result<KeyReport, KeyError> {
    Ok(match scheme {
        Scheme::Sr25519 => KeyReport {
            scheme: Some(scheme),
            public: Sr25519Pair::from_uri(uri)?.public(),
            input_prefix: None,
            secret_seed: None,
        },
        Scheme::Ed25519 => {
            let pair = Ed25519Pair::from_uri(uri)?;
            KeyReport {
                scheme: Some(scheme),
                public: pair.public(),
                input_prefix: None,
                secret_seed: Some(format!("0x{}", hex::encode(*pair.seed()))),
            }
        }
    })
}

fn generate(scheme: Scheme, json: bool) -> Result<()> {
    let (_, phrase) = Sr25519Pair::generate().map_err(|e| anyhow!("cannot generate a key: {e}"))?;
    // An ed25519 key from a phrase uses the phrase's seed directly, as `subkey` does.
    let report = key_of(&phrase, scheme).map_err(|e| anyhow!("cannot generate a key: {e}"))?;
    if json {
        let mut v = report.json();
        v["secretPhrase"] = json!(phrase.as_str());
        crate::outln!("{v:#}");
    } else {
        crate::outln!("Secret phrase:       {}", phrase.as_str());
        report.print();
    }
    Ok(())
}

/// How `key inspect` reads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Public,
    /// `0x` and 64 hex digits with neither flag: a public key, said so on stderr because a
    /// 32-byte secret seed looks the same.
    PublicHex,
    Secret,
}

/// Never reads a bare 32-byte hex string as a secret unless asked to: taking a public key
/// for a seed would print some other account, silently.
fn reading(input: &str, public: bool, secret: bool) -> Reading {
    let input = input.trim();
    if public {
        return Reading::Public;
    }
    if secret || is_secret_uri(input) {
        return Reading::Secret;
    }
    match input.strip_prefix("0x") {
        Some(digits) if digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Reading::PublicHex
        }
        Some(_) => Reading::Public,
        None if ss58::decode(input).is_ok() => Reading::Public,
        None => Reading::Secret,
    }
}

fn inspect(input: &str, scheme: Scheme, reading: Reading, json: bool) -> Result<()> {
    let input = input.trim();
    if reading == Reading::PublicHex {
        // A script that passed a seed this way before would now get the seed printed as a
        // public key: where the input was more likely a secret, refuse to guess.
        if json || scheme != Scheme::Sr25519 {
            bail!(
                "0x and 64 hex digits may be a public key or a secret seed: pass --public or \
                 --secret"
            );
        }
        eprintln!("note: read as a public key; pass --secret to read it as a secret seed");
    }
    let (heading, report) = if reading != Reading::Secret {
        let (key, prefix) = parse_public(input)?;
        let heading = format!("Public key `{input}` is account:");
        let report = KeyReport {
            scheme: None,
            public: key,
            input_prefix: prefix,
            secret_seed: None,
        };
        (heading, report)
    } else {
        let report = key_of(input, scheme).map_err(|e| secret_error(input, e))?;
        (
            format!("Secret Key URI `{}` is account:", mask_password(input)),
            report,
        )
    };
    if json {
        crate::outln!("{:#}", report.json());
    } else {
        crate::outln!("{heading}");
        report.print();
    }
    Ok(())
}

/// An SS58 address (with its prefix) or a 0x public key.
fn parse_public(input: &str) -> Result<([u8; 32], Option<u16>)> {
    if input.starts_with("0x") {
        let key = ss58::parse_account(input).map_err(|e| address_error(input, e))?;
        return Ok((key, None));
    }
    let (key, prefix) = ss58::decode(input).map_err(|e| address_error(input, e))?;
    Ok((key, Some(prefix)))
}

/// Why a secret URI was refused. The input is quoted only when it cannot hold a secret
/// phrase (a single word), so phrases never end up in terminals' scrollback or logs twice.
fn secret_error(input: &str, e: KeyError) -> anyhow::Error {
    let single_word = !input.contains(char::is_whitespace) && !input.contains('/');
    if single_word && !input.starts_with("0x") {
        if let Err(Ss58Error::BadChecksum(_)) = ss58::decode(input) {
            return address_error(input, Ss58Error::BadChecksum(input.into()));
        }
        return anyhow!(
            "{input:?} is neither a secret URI (like //Alice or a 12-word phrase) nor an SS58 address"
        );
    }
    anyhow!("the secret URI is not usable: {e}")
}

/// A secret URI with its password (after `///`) hidden.
fn mask_password(uri: &str) -> String {
    match uri.find("///") {
        Some(at) => format!("{}///***", uri.get(..at).unwrap_or_default()),
        None => uri.to_string(),
    }
}

/// `phala balance ACCOUNT`.
pub async fn run_balance(args: BalanceArgs) -> Result<()> {
    let who = resolve_account(&args.account)?;
    let client = connect(&args.url, ClientConfig::default().finality_timeout).await?;
    let (number, hash) = client.best_head().await?;
    let info = client.account_at(&who, Some(hash)).await?;
    let data = info.data;
    let total = data.free.saturating_add(data.reserved);
    let exists = info.providers > 0 || info.sufficients > 0;
    if args.json {
        let v = json!({
            "account": who.to_ss58(),
            "accountId": format!("0x{}", hex::encode(who.0)),
            "block": number,
            "blockHash": hash,
            "exists": exists,
            "free": data.free.to_string(),
            "reserved": data.reserved.to_string(),
            "frozen": data.frozen.to_string(),
            "total": total.to_string(),
            "nonce": info.nonce,
        });
        crate::outln!("{v:#}");
        return Ok(());
    }
    crate::outln!("Account {} at block #{number} ({hash})", who.to_ss58());
    crate::outln!("  free:      {}", format_pha(data.free));
    crate::outln!("  reserved:  {}", format_pha(data.reserved));
    crate::outln!("  frozen:    {}", format_pha(data.frozen));
    crate::outln!("  total:     {}", format_pha(total));
    crate::outln!("  nonce:     {}", info.nonce);
    if !exists {
        crate::outln!("  (this account does not exist on chain)");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// The node's RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Only gatekeepers, or only the other workers.
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// Only the registered worker the API at this URL says it is (its `/info` pubkey: a
    /// claim, which queries then hold it to).
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Print only the keys, one per line (e.g. `W=$(phala workers --role worker -q)`).
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `phala workers --role` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Workers that hold the master key.
    Gatekeeper,
    /// Every other worker (cluster members and workers in no cluster).
    Worker,
}

/// `phala workers`: the registered workers, simulated ones marked as such.
pub async fn run_workers(args: WorkersArgs) -> Result<()> {
    let client = connect(&args.url, ClientConfig::default().finality_timeout).await?;
    let mut workers = client.workers().await?;
    let gatekeepers = client.gatekeepers().await?;
    let clusters = client.clusters().await?;
    let mut joining = Vec::new();
    for (id, _) in &clusters {
        for j in client.joining(*id).await? {
            joining.push((*id, j.worker));
        }
    }
    if let Some(role) = args.role {
        let want = role == Role::Gatekeeper;
        workers.retain(|w| gatekeepers.contains(&w.pubkey) == want);
    }
    if let Some(url) = &args.api {
        let key = phala_client::worker::WorkerApi::new(url)?
            .claimed_identity()
            .await?;
        workers.retain(|w| w.pubkey == key);
        if workers.is_empty() {
            bail!(
                "the worker at {url} says it is 0x{}, which is not a registered worker here \
                 (yet: a new worker registers within about ten seconds; try again, or see its \
                 /info and log)",
                hex::encode(key)
            );
        }
    }
    if args.quiet {
        for w in &workers {
            crate::outln!("0x{}", hex::encode(w.pubkey));
        }
        return Ok(());
    }
    // A worker's role: gatekeeper, member of a cluster, or neither yet.
    let role = |key: &[u8; 32]| -> String {
        if gatekeepers.contains(key) {
            return "gatekeeper (holds the master key)".into();
        }
        if let Some((id, _)) = joining.iter().find(|(_, w)| w == key) {
            return format!("worker joining cluster {id} (waiting for the cluster's state)");
        }
        match clusters.iter().find(|(_, c)| c.workers.contains(key)) {
            Some((id, _)) => format!("worker in cluster {id}"),
            None => "worker, in no cluster".into(),
        }
    };
    if args.json {
        let list: Vec<_> = workers
            .iter()
            .map(|w| {
                json!({
                    "pubkey": format!("0x{}", hex::encode(w.pubkey)),
                    "ecdhPubkey": format!("0x{}", hex::encode(w.ecdh_pubkey)),
                    "tee": w.tee.as_str(),
                    "simulated": w.tee == phala_runtime::modules::registry::TeeKind::Simulated,
                    "confidenceLevel": w.confidence_level,
                    "role": role(&w.pubkey),
                    "tcbStatus": w.tcb_status.map(|s| format!("{s:?}")),
                    "initialScore": w.initial_score,
                    "operator": w.operator.map(|o| o.to_ss58()),
                    "measurement": format!("0x{}", hex::encode(&w.measurement)),
                    "registeredAt": w.registered_at,
                    "attestedAt": w.attested_at,
                })
            })
            .collect();
        crate::outln!("{:#}", json!(list));
        return Ok(());
    }
    if workers.is_empty() {
        crate::outln!("No workers registered.");
    }
    for w in &workers {
        let tee = match w.tee {
            phala_runtime::modules::registry::TeeKind::Simulated => {
                "SIMULATED (no hardware protection)".to_string()
            }
            other => format!("{} ({:?})", other.as_str(), w.tcb_status),
        };
        crate::outln!("0x{}", hex::encode(w.pubkey));
        crate::outln!("  role:        {}", role(&w.pubkey));
        let confidence = match w.tee {
            // Level 128 is the chain's mark for "no hardware, no level".
            phala_runtime::modules::registry::TeeKind::Simulated => {
                format!(
                    "{} (simulated: no protection; the economics count it as level 5)",
                    w.confidence_level
                )
            }
            _ => format!("{} (1 best, 5 worst)", w.confidence_level),
        };
        crate::outln!("  tee:         {tee}, confidence level {confidence}");
        crate::outln!(
            "  score:       {}",
            w.initial_score
                .map(|s| s.to_string())
                .unwrap_or_else(|| "benchmark pending".into())
        );
        crate::outln!(
            "  operator:    {}",
            w.operator
                .map(|o| o.to_ss58())
                .unwrap_or_else(|| "none".into())
        );
        crate::outln!(
            "  registered:  #{} (attested #{})",
            w.registered_at,
            w.attested_at
        );
    }
    Ok(())
}

/// `phala transfer --from URI TO AMOUNT`: signs, submits, waits for finality and reports.
pub async fn run_transfer(args: TransferArgs) -> Result<()> {
    let amount = parse_amount(None, &args.amount)?;
    let tip = match &args.tip {
        Some(t) => parse_amount(Some("--tip"), t)?,
        None => 0,
    };
    let signer = signer("--from", &args.from)?;
    let dest = resolve_account(&args.to)?;
    let client = connect(&args.url, Duration::from_secs(args.timeout)).await?;

    let keep_alive = !args.allow_death;
    let options = TxOptions {
        nonce: args.nonce,
        tip,
        ..TxOptions::default()
    };
    let tx = client
        .sign(transfer_call(dest, amount, keep_alive), &signer, options)
        .await?;
    crate::outln!(
        "Transferring {} from {} to {} ({}, nonce {})",
        format_pha(amount),
        signer.account_id().to_ss58(),
        dest.to_ss58(),
        if keep_alive {
            "transfer_keep_alive"
        } else {
            "transfer_allow_death"
        },
        tx.params().nonce,
    );
    match client.fee_estimate(&tx).await {
        Ok(info) => crate::outln!(
            "Estimated fee: {}",
            format_pha(info.partial_fee.saturating_add(tip))
        ),
        Err(e) => eprintln!("warning: the fee could not be estimated: {e}"),
    }

    let progress = client.submit_and_watch(&tx).await?;
    crate::outln!("Submitted transaction {}", tx.hash());
    let outcome = progress
        .wait_finalized_with(|status| match status {
            TxStatus::Ready | TxStatus::Future | TxStatus::InBlock(_) | TxStatus::Retracted(_) => {
                crate::outln!("  {status}")
            }
            _ => {}
        })
        .await?;
    crate::outln!(
        "Finalized in block #{} ({}), extrinsic index {}",
        outcome.block_number,
        outcome.block_hash,
        outcome.extrinsic_index
    );
    crate::outln!("Fee paid: {}", format_pha(outcome.fee));
    let metadata = client.metadata().await;
    crate::outln!("Events:");
    for event in &outcome.events {
        crate::outln!("  {}", metadata.describe_event(event));
    }
    match &outcome.result {
        Ok(()) => {
            crate::outln!("Transfer succeeded.");
            Ok(())
        }
        Err(failure) => bail!(
            "the transfer failed in block #{}: {failure}",
            outcome.block_number
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_client::primitives::AccountId32;

    const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    const ALICE_30: &str = "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2";
    const ALICE_42: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn alice() -> AccountId32 {
        ALICE_30.parse().unwrap()
    }

    #[test]
    fn accounts_resolve_from_every_form() {
        for input in [ALICE_30, ALICE_42, ALICE_HEX, "//Alice", " //Alice "] {
            assert_eq!(resolve_account(input).unwrap(), alice(), "{input}");
        }
        assert_eq!(
            resolve_account("xyz").unwrap_err().to_string(),
            "\"xyz\" is neither an SS58 address nor 0x followed by 64 hex digits"
        );
        assert_eq!(
            resolve_account("0x1234").unwrap_err().to_string(),
            "\"0x1234\" is neither an SS58 address nor 0x followed by 64 hex digits"
        );
        assert!(
            resolve_account("alice")
                .unwrap_err()
                .to_string()
                .ends_with("the dev account is written //Alice")
        );
        let typo = "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs3";
        assert!(
            resolve_account(typo)
                .unwrap_err()
                .to_string()
                .contains("checksum does not match")
        );
        let bad_phrase = resolve_account("not a phrase").unwrap_err().to_string();
        assert!(bad_phrase.starts_with("the secret URI is not usable:"));
        assert!(!bad_phrase.contains("not a phrase"));
    }

    #[test]
    fn signers_must_be_secrets() {
        assert_eq!(signer("--from", "//Alice").unwrap().account_id(), alice());
        assert_eq!(
            signer("--from", ALICE_30).unwrap_err().to_string(),
            "--from must be a secret URI (like //Alice or a 12-word phrase), not an address"
        );
        // Each command names its own flag.
        assert!(
            signer("--suri", ALICE_30)
                .unwrap_err()
                .to_string()
                .starts_with("--suri must be a secret URI")
        );
    }

    #[test]
    fn inspect_reads_secrets_and_addresses() {
        let report = key_of("//Alice", Scheme::Sr25519).unwrap();
        assert_eq!(report.json()["ss58Address"], ALICE_30);
        assert_eq!(report.json()["substrateAddress"], ALICE_42);
        assert_eq!(report.json()["publicKey"], ALICE_HEX);
        let ed = key_of("//Alice", Scheme::Ed25519).unwrap();
        assert_eq!(
            ed.json()["publicKey"],
            "0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee"
        );
        assert_eq!(parse_public(ALICE_42).unwrap(), (alice().0, Some(42)));
        assert_eq!(parse_public(ALICE_HEX).unwrap(), (alice().0, None));
        assert!(inspect(ALICE_42, Scheme::Sr25519, Reading::Public, true).is_ok());
        assert!(inspect("//Alice///pw", Scheme::Sr25519, Reading::Secret, false).is_ok());
        assert_eq!(
            inspect(
                "alice",
                Scheme::Sr25519,
                reading("alice", false, false),
                false
            )
            .unwrap_err()
            .to_string(),
            "\"alice\" is neither a secret URI (like //Alice or a 12-word phrase) nor an SS58 address"
        );
        assert_eq!(mask_password("//Alice///secret"), "//Alice///***");
    }

    /// A 0x public key was read as a secret seed and printed another account.
    #[test]
    fn a_hex_public_key_is_never_read_as_a_secret_unless_asked() {
        assert_eq!(reading(ALICE_HEX, false, false), Reading::PublicHex);
        assert_eq!(reading(ALICE_HEX, true, false), Reading::Public);
        assert_eq!(reading(ALICE_HEX, false, true), Reading::Secret);
        assert_eq!(reading(ALICE_42, false, false), Reading::Public);
        assert_eq!(reading("//Alice", false, false), Reading::Secret);
        assert_eq!(
            reading(&format!("{ALICE_HEX}//derived"), false, false),
            Reading::Secret
        );
        assert_eq!(reading("0x1234", false, false), Reading::Public);
        assert_eq!(reading("bottom drive obey", false, false), Reading::Secret);
    }

    #[test]
    fn amounts_parse_as_pha() {
        assert_eq!(parse_amount(None, "1.5 PHA").unwrap(), 1_500_000_000_000);
        assert_eq!(
            parse_amount(None, "abc").unwrap_err().to_string(),
            "amount \"abc\" is not a number like 1.5 or 1.5 PHA"
        );
        assert_eq!(
            parse_amount(Some("--tip"), "1.0000000000001")
                .unwrap_err()
                .to_string(),
            "invalid --tip: amount \"1.0000000000001\" has more than 12 decimals"
        );
    }
}
