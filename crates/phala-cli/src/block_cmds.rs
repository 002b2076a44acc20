//! `phala block`: one block as people read it — header, each extrinsic's signer, call, fee
//! and result, and the events, decoded by the node's metadata.

use anyhow::{Context, Result, bail};
use clap::Args;
use phala_client::ClientConfig;
use phala_client::blocks::BlockView;

use crate::args::{DEFAULT_URL, connect, h256, time};

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// A block number or 0x block hash; default: the finalized head.
    pub block: Option<String>,
    /// The node's RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `phala block [NUMBER|HASH]`.
pub async fn run(args: BlockArgs) -> Result<()> {
    let client = connect(&args.url, ClientConfig::default().finality_timeout).await?;
    let (finalized, finalized_hash) = client.finalized_head().await?;
    let hash = match args.block.as_deref() {
        None => finalized_hash,
        Some(id) if id.starts_with("0x") => h256("block hash", id)?,
        Some(id) => {
            let number: u32 = id
                .parse()
                .with_context(|| format!("`{id}` is neither a block number nor a 0x block hash"))?;
            match client.block_hash(number).await? {
                Some(hash) => hash,
                None => bail!("there is no block #{number} yet (the chain is at #{finalized})"),
            }
        }
    };
    let Some(view) = client.block_view(hash).await? else {
        bail!("the node knows no block {hash}");
    };
    if args.json {
        crate::outln!("{:#}", serde_json::to_value(&view)?);
    } else {
        print_text(&view);
    }
    Ok(())
}

fn print_text(view: &BlockView) {
    crate::outln!(
        "block #{} {}{}",
        view.number,
        view.hash,
        if view.finalized {
            ""
        } else {
            " (not finalized)"
        }
    );
    if let Some(ms) = view.timestamp_ms {
        crate::outln!("  time:       {} UTC", time(ms));
    }
    crate::outln!("  parent:     {}", view.parent_hash);
    crate::outln!("  state root: {}", view.state_root);
    crate::outln!("  extrinsics: {}", view.extrinsics.len());
    for x in &view.extrinsics {
        crate::outln!("  #{} {}", x.index, x.call);
        match (&x.signer, x.nonce) {
            (Some(signer), Some(nonce)) => crate::outln!("     by {signer}, nonce {nonce}"),
            (Some(signer), None) => crate::outln!("     by {signer}"),
            _ => crate::outln!("     unsigned"),
        }
        if let Some(fee) = &x.fee {
            crate::outln!("     fee {fee}");
        }
        crate::outln!(
            "     {}  (hash {})",
            x.result.as_deref().unwrap_or("no result event"),
            x.hash
        );
        for e in &x.events {
            crate::outln!("       {}", e.text);
        }
    }
    for e in &view.events {
        crate::outln!("  [{}] {}", e.phase, e.text);
    }
    if let Some(end) = &view.ends_epoch {
        crate::outln!(
            "  ends epoch {}: epoch {} is signed by {} validator(s){}",
            end.epoch,
            end.next_epoch,
            end.consensus_keys.len(),
            end.new_length
                .map(|l| format!(" and lasts {l} blocks, as do the epochs after it"))
                .unwrap_or_default()
        );
    }
}
