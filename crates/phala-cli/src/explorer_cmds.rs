//! `phala explorer`: the web explorer for a node (crate `phala-explorer`), and the one
//! `phala devnet` starts beside its nodes.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;

use crate::args::DEFAULT_URL;

#[derive(Debug, Args)]
pub struct ExplorerArgs {
    /// The node to explore: its RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Where the explorer listens (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Serves until Ctrl-C. The node need not answer yet: the pages say so until it does.
pub async fn run(args: ExplorerArgs) -> Result<()> {
    let explorer = phala_explorer::start(&args.url, args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    crate::outln!(
        "phala explorer: {} (node {}). Press Ctrl-C to stop.",
        explorer.url(),
        args.url
    );
    tokio::select! {
        _ = crate::args::shutdown_signal() => {}
        _ = explorer.task => {}
    }
    Ok(())
}

/// The devnet's explorer, in a thread of its own until `stop`. A port in use is a warning,
/// not the devnet's end: several devnets may run on one machine.
pub fn spawn_for_devnet(
    node: SocketAddr,
    listen: SocketAddr,
    mut stop: tokio::sync::broadcast::Receiver<()>,
) -> Option<(
    String,
    std::thread::JoinHandle<Result<(), phala_node::NodeError>>,
)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| phala_node::NodeError::Stopped(format!("explorer: {e}")))?;
        runtime.block_on(async move {
            match phala_explorer::start(&format!("ws://{node}"), listen).await {
                Ok(explorer) => {
                    let _ = tx.send(Ok(explorer.url()));
                    let _ = stop.recv().await;
                    explorer.task.abort();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        Ok(())
    });
    match rx.recv() {
        Ok(Ok(url)) => Some((url, thread)),
        Ok(Err(e)) => {
            eprintln!(
                "  warning: no explorer: cannot listen on {listen} ({e}); pass --explorer-port, \
                 or run `phala explorer --url ws://{node} --listen 127.0.0.1:0`"
            );
            None
        }
        Err(_) => None,
    }
}
