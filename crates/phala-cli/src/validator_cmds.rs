//! `phala validator`: bond PHA, stand for election with a consensus key (and its proof of
//! possession), unbond, stop standing; and see the epochs and who signs them.

use anyhow::{Result, bail};
use clap::Subcommand;
use phala_client::Client;
use phala_client::keys::{Ed25519Pair, Sr25519Pair};
use phala_client::primitives::AccountId32;
use phala_client::primitives::format_pha;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::validators;

use crate::args::{TxArgs, parse_amount};

#[derive(Debug, Subcommand)]
pub enum ValidatorCmd {
    /// Lock PHA of the account as bond (it counts for elections).
    Bond {
        /// The amount in PHA, e.g. "1000".
        amount: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Start unlocking bonded PHA; `withdraw` unlocks it after the unbonding period.
    Unbond {
        /// The amount in PHA.
        amount: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Stand for election with an ed25519 consensus key (the one `phala node --validator`
    /// runs with). The key signs a proof that it registers for this account on this chain,
    /// so nobody can register a key they do not hold.
    Validate {
        /// Secret URI of the consensus key, e.g. //Eve (as given to `phala node --validator`).
        #[arg(long, env = "PHALA_CONSENSUS_KEY", hide_env_values = true)]
        consensus_key: String,
        /// Where the other validators reach this node: host:port of its p2p listener.
        #[arg(long)]
        p2p_address: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Stop standing for election (from the next election on).
    Chill {
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Unlock the unbonded PHA whose unbonding period has passed.
    Withdraw {
        #[command(flatten)]
        tx: TxArgs,
    },
    /// The current epoch (its blocks and committee), a length governance set for the
    /// epochs after it, and every length change so far.
    Epochs(crate::pool_cmds::ListArgs),
}

pub async fn run(cmd: ValidatorCmd) -> Result<()> {
    match cmd {
        ValidatorCmd::Bond { amount, tx } => {
            let value = parse_amount(None, &amount)?;
            crate::outln!("Bonding {}", format_pha(value));
            let (client, signer) = tx.open().await?;
            let call = validators::Call::bond { value };
            submit(&client, &signer, call).await
        }
        ValidatorCmd::Unbond { amount, tx } => {
            let value = parse_amount(None, &amount)?;
            crate::outln!("Unbonding {}", format_pha(value));
            let (client, signer) = tx.open().await?;
            submit(&client, &signer, validators::Call::unbond { value }).await
        }
        ValidatorCmd::Validate {
            consensus_key,
            p2p_address,
            tx,
        } => {
            let key = Ed25519Pair::from_uri(&consensus_key)
                .map_err(|e| anyhow::anyhow!("--consensus-key is not a usable secret URI: {e}"))?;
            if !validators::valid_address(p2p_address.as_bytes()) {
                bail!("--p2p-address {p2p_address:?} is not host:port");
            }
            let (client, signer) = tx.open().await?;
            let account = signer.account_id();
            bonded_enough(&client, &account).await?;
            crate::outln!(
                "Standing with consensus key 0x{}",
                hex::encode(key.public())
            );
            let payload = validators::possession_payload(&client.genesis_hash(), &account);
            let call = validators::Call::validate {
                consensus_key: key.public(),
                p2p_address: p2p_address.into_bytes(),
                proof_of_possession: key.sign(&payload),
            };
            submit(&client, &signer, call).await
        }
        ValidatorCmd::Withdraw { tx } => {
            let (client, signer) = tx.open().await?;
            withdrawable(&client, &signer.account_id()).await?;
            submit(&client, &signer, validators::Call::withdraw_unbonded).await
        }
        ValidatorCmd::Chill { tx } => {
            let (client, signer) = tx.open().await?;
            submit(&client, &signer, validators::Call::chill).await
        }
        ValidatorCmd::Epochs(args) => epochs(args).await,
    }
}

fn member_json(m: &validators::Member) -> serde_json::Value {
    serde_json::json!({
        "account": m.account.to_ss58(),
        "consensusKey": format!("0x{}", hex::encode(m.consensus_key)),
        "p2pAddress": String::from_utf8_lossy(&m.p2p_address),
    })
}

fn print_members(members: &[validators::Member]) {
    for m in members {
        crate::outln!(
            "  {}  consensus key 0x{}  {}",
            m.account.to_ss58(),
            hex::encode(m.consensus_key),
            String::from_utf8_lossy(&m.p2p_address)
        );
    }
}

async fn epochs(args: crate::pool_cmds::ListArgs) -> Result<()> {
    let client = crate::args::connect(&args.url, std::time::Duration::from_secs(30)).await?;
    let view = client.epochs().await?;
    let (e, next) = (view.current, view.next);
    let segments: Vec<_> = view
        .schedule
        .segments()
        .iter()
        .map(|s| (s.first_epoch, s.first_block, s.length))
        .collect();
    if args.json {
        let json = serde_json::json!({
            "finalized": view.at.0,
            "epoch": e.epoch,
            "firstBlock": e.first,
            "lastBlock": e.last,
            "length": e.length(),
            "committee": view.committee.iter().map(member_json).collect::<Vec<_>>(),
            "next": {
                "epoch": next.epoch,
                "firstBlock": next.first,
                "lastBlock": next.last,
                "length": next.length(),
                "committee": view.next_committee.as_ref()
                    .map(|c| c.iter().map(member_json).collect::<Vec<_>>()),
            },
            "pendingLength": view.next_length,
            "schedule": segments.iter().map(|(epoch, block, length)| serde_json::json!({
                "firstEpoch": epoch, "firstBlock": block, "length": length,
            })).collect::<Vec<_>>(),
        });
        crate::outln!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    crate::outln!(
        "Epoch {}: blocks #{}..=#{} ({} blocks); finalized #{}{}",
        e.epoch,
        e.first,
        e.last,
        e.length(),
        view.at.0,
        if view.at.0 == e.last {
            ", the epoch's last block"
        } else {
            ""
        }
    );
    crate::outln!("Committee ({}):", view.committee.len());
    print_members(&view.committee);
    crate::outln!(
        "Next: epoch {}, blocks #{}..=#{} ({} blocks){}",
        next.epoch,
        next.first,
        next.last,
        next.length(),
        match view.next_length {
            Some(_) => ", the length governance set, taken up at this epoch's last block",
            None if view.at.0 == e.last => "",
            None => " (no change pending)",
        }
    );
    match &view.next_committee {
        Some(members) => {
            crate::outln!("Next committee ({}):", members.len());
            print_members(members);
        }
        None => crate::outln!("Next committee: elected at block #{}", e.last),
    }
    crate::outln!("Epoch lengths:");
    for (epoch, block, length) in segments {
        crate::outln!("  from epoch {epoch} (block #{block}): {length} blocks");
    }
    Ok(())
}

/// Refuses to stand with a bond under the minimum (the chain's `BondTooSmall` said neither
/// what the minimum is nor how much is missing).
async fn bonded_enough(client: &Client, who: &AccountId32) -> Result<()> {
    let min = client.validator_params().await?.min_bond.max(1);
    let active = client
        .bond_ledger(who, None)
        .await?
        .map(|l| l.active)
        .unwrap_or(0);
    if active < min {
        bail!(
            "a candidate needs a bond of at least {}, and {} has {} bonded: `phala validator \
             bond {} --suri …` first",
            format_pha(min),
            who.to_ss58(),
            format_pha(active),
            format_pha(min.saturating_sub(active)).trim_end_matches(" PHA")
        );
    }
    Ok(())
}

/// Refuses a withdrawal that would move nothing (it used to pay a fee and report success
/// with `Withdrawn { amount: 0 }`), saying when the unbonded PHA unlocks.
async fn withdrawable(client: &Client, who: &AccountId32) -> Result<()> {
    let (now, at) = client.best_head().await?;
    let ledger = client.bond_ledger(who, Some(at)).await?;
    let unlocking = ledger.map(|l| l.unlocking).unwrap_or_default();
    // The withdrawal lands in the next block at the earliest.
    if unlocking.iter().any(|u| u.at <= now.saturating_add(1)) {
        return Ok(());
    }
    match unlocking.iter().min_by_key(|u| u.at) {
        Some(next) => bail!(
            "nothing to withdraw yet: {} unlocks at block #{} (now #{now})",
            format_pha(next.value),
            next.at
        ),
        None => bail!("nothing is unbonding: `phala validator unbond` first"),
    }
}

async fn submit(client: &Client, signer: &Sr25519Pair, call: validators::Call) -> Result<()> {
    crate::args::submit_call(client, signer, RuntimeCall::Validators(call))
        .await
        .map(|_| ())
}
