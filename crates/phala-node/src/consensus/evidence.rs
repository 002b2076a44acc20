//! Turns equivocation seen by our consensus engine into an on-chain report.

use std::sync::Arc;

use commonware_actor::Feedback;
use commonware_consensus::Reporter;
use commonware_consensus::simplex::types::Activity;
use commonware_cryptography::sha256::Digest;
use parity_scale_codec::Encode;
use phala_chain::Chain;
use phala_runtime::modules::validators;
use phala_runtime::{RuntimeCall, UncheckedExtrinsic};

use super::app::Scheme;

/// Receives every consensus activity; submits the conflicting-vote evidence among it as an
/// unsigned `Validators::report_equivocation`. The pool verifies the evidence before taking
/// it (a forged report never leaves this node) and gossips it like any transaction.
#[derive(Clone)]
pub struct EvidenceReporter {
    chain: Arc<Chain>,
}

impl EvidenceReporter {
    pub fn new(chain: Arc<Chain>) -> Self {
        EvidenceReporter { chain }
    }
}

impl Reporter for EvidenceReporter {
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let Some(evidence) = phala_light_client::evidence::encode(&activity) else {
            return Feedback::Ok;
        };
        let call = RuntimeCall::Validators(validators::Call::report_equivocation { evidence });
        match self.chain.submit(UncheckedExtrinsic::bare(call).encode()) {
            Ok(hash) => {
                tracing::warn!(target: "consensus", %hash, "equivocation seen; report submitted")
            }
            Err(e) => tracing::debug!(target: "consensus", "equivocation report not pooled: {e}"),
        }
        Feedback::Ok
    }
}
