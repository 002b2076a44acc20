//! Commits finalized blocks, in order, with their certificates.
//!
//! Marshal delivers each finalized block at least once and waits for our acknowledgement
//! before moving on. The block and its certificate are committed to the chain store in one
//! transaction *before* the acknowledgement, and a block at or below the stored height is
//! skipped, so a crash anywhere between the two loses nothing and applies nothing twice.

use std::sync::Arc;

use commonware_codec::Encode;
use commonware_consensus::Heightable;
use commonware_consensus::marshal::Update;
use commonware_runtime::Spawner;
use commonware_utils::acknowledgement::Acknowledgement;
use phala_chain::Chain;
use tokio::sync::mpsc;

use super::block::ConsensusBlock;
use super::engine::Marshal;

/// Runs until marshal closes the stream (shutdown) or a commit fails. A failed commit is
/// fatal: acknowledging would make marshal skip a block the store does not have.
pub async fn run<E: Spawner>(
    context: E,
    chain: Arc<Chain>,
    marshal: Marshal,
    mut updates: mpsc::UnboundedReceiver<Update<ConsensusBlock>>,
) -> Result<(), String> {
    while let Some(update) = updates.recv().await {
        let Update::Block(block, ack) = update else {
            continue;
        };
        let height = block.height();
        if height.get() == 0 {
            ack.acknowledge();
            continue;
        }
        // Marshal keeps a certificate for every block finalized by its own certificate; a
        // block finalized only through a descendant's certificate has none of its own.
        let certificate = marshal
            .get_finalization(height)
            .await
            .map(|f| f.encode().to_vec())
            .unwrap_or_default();
        let chain = chain.clone();
        let inner = block.inner().block().clone();
        let committed = context
            .child("commit")
            .shared(true)
            .spawn(move |_| async move { chain.finalize_block(&inner, &certificate) })
            .await;
        match committed {
            Ok(Ok(())) => ack.acknowledge(),
            Ok(Err(e)) => {
                return Err(format!(
                    "cannot commit finalized block #{}: {e}",
                    height.get()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "commit task for block #{} failed: {e}",
                    height.get()
                ));
            }
        }
    }
    Ok(())
}
