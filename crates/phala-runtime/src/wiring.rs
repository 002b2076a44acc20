//! The runtime's root wiring: what connects modules that do not know each other.
//!
//! Module dependencies run one way — `system` ← `balances` ← `validators`, and
//! `message_queue` ← `registry` ← `contracts`. Where a lower module must reach a higher one
//! (a worker's message to the module that handles its topic; a revoked worker's seat in a
//! cluster), it declares a trait and [`Wiring`] implements it here, as a FRAME runtime
//! configures its pallets.

use phala_mq::topics;

use crate::Ext;
use crate::modules::message_queue::{self, Route, SenderStatus};
use crate::modules::{contracts, registry};

/// The runtime's configuration of its modules.
#[derive(Clone, Copy, Debug)]
pub struct Wiring;

impl message_queue::Config for Wiring {
    fn sender_status(ext: &Ext, pubkey: &[u8; 32]) -> SenderStatus {
        match registry::worker(ext, pubkey) {
            None => SenderStatus::Unknown,
            Some(worker) if registry::usable(ext, &worker).is_err() => SenderStatus::Untrusted,
            Some(_) => SenderStatus::Trusted,
        }
    }

    const ROUTES: &'static [Route] = &[
        Route {
            topic: topics::WORKER_REPORT,
            handle: registry::on_worker_report,
            weight: registry::worker_report_weight,
        },
        Route {
            topic: topics::GATEKEEPER_REPORT,
            handle: registry::on_gatekeeper_report,
            weight: registry::gatekeeper_report_weight,
        },
        Route {
            topic: topics::CLUSTER_KEY_REPORT,
            handle: contracts::on_cluster_key_report,
            weight: contracts::cluster_key_report_weight,
        },
        Route {
            topic: phala_mq::contracts::CONTRACT_REPORT,
            handle: contracts::on_report,
            weight: contracts::report_weight,
        },
    ];
}

impl registry::WorkerHooks for Wiring {
    fn on_revoked(ext: &mut Ext, pubkey: &[u8; 32]) {
        contracts::leave_cluster(ext, pubkey);
    }

    fn on_reattested(ext: &mut Ext, worker: &registry::WorkerInfo) {
        contracts::recheck_member(ext, worker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::message_queue::Config;

    #[test]
    fn every_topic_has_one_handler() {
        let mut topics: Vec<&[u8]> = Wiring::ROUTES.iter().map(|r| r.topic).collect();
        topics.sort();
        topics.dedup();
        assert_eq!(topics.len(), Wiring::ROUTES.len());
        // Workers' topics start with `^`: addressed to the chain.
        assert!(topics.iter().all(|t| t.starts_with(b"^")));
    }
}
