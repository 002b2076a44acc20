//! The runtime's root wiring: what connects modules that do not know each other.
//!
//! Module dependencies run one way — `system` ← `balances` ← `validators`, and
//! `message_queue` ← `registry` ← `contracts`. Where a lower module must reach a higher one
//! (a worker's message to the module that handles its topic; a revoked worker's seat in a
//! cluster), it declares a trait and [`Wiring`] implements it here, as a FRAME runtime
//! configures its pallets.

use parity_scale_codec::{DecodeLimit, Encode};
use phala_mq::topics::{self, GatekeeperReport};
use phala_primitives::Weight;

use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::message_queue::{self, Route, SenderStatus};
use crate::modules::{analytics, computation, contracts, registry, stake_pools};

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
            handle: on_gatekeeper_report,
            weight: gatekeeper_report_weight,
        },
        Route {
            topic: topics::CLUSTER_KEY_REPORT,
            handle: contracts::on_cluster_key_report,
            weight: contracts::cluster_key_report_weight,
        },
        Route {
            topic: topics::CLUSTER_STATE_READY,
            handle: contracts::on_state_ready,
            weight: contracts::state_ready_weight,
        },
        Route {
            topic: phala_mq::contracts::CONTRACT_REPORT,
            handle: contracts::on_report,
            weight: contracts::report_weight,
        },
        Route {
            topic: phala_mq::analytics::ANALYTICS_BATCH,
            handle: analytics::on_batch,
            weight: analytics::batch_weight,
        },
        Route {
            topic: phala_mq::computation::HEARTBEAT,
            handle: computation::on_heartbeat,
            weight: computation::heartbeat_weight,
        },
        Route {
            topic: phala_mq::computation::SETTLEMENT,
            handle: computation::on_settlement::<Wiring>,
            weight: computation::settlement_weight,
        },
    ];
}

/// A cluster key that comes as a gatekeeper report, as gatekeepers sent it before cluster
/// keys had their own topic (a message signed then may still be in a worker's sealed queue):
/// the contracts module takes it all the same.
fn old_cluster_key(payload: &[u8]) -> Option<Vec<u8>> {
    match GatekeeperReport::decode_all_with_depth_limit(8, &mut &payload[..]) {
        Ok(GatekeeperReport::ClusterKey(report)) => Some(report.encode()),
        _ => None,
    }
}

fn on_gatekeeper_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    match old_cluster_key(payload) {
        Some(report) => contracts::on_cluster_key_report(ext, sender, &report),
        None => registry::on_gatekeeper_report(ext, sender, payload),
    }
}

fn gatekeeper_report_weight(payload: &[u8]) -> Weight {
    match old_cluster_key(payload) {
        Some(report) => contracts::cluster_key_report_weight(&report),
        None => registry::gatekeeper_report_weight(payload),
    }
}

impl registry::WorkerHooks for Wiring {
    fn on_revoked(ext: &mut Ext, pubkey: &[u8; 32]) {
        contracts::leave_cluster(ext, pubkey);
        computation::on_worker_revoked(ext, pubkey);
    }

    fn on_reattested(ext: &mut Ext, worker: &registry::WorkerInfo) {
        contracts::recheck_member(ext, worker);
    }
}

/// Contract gas pays the cluster members' sessions.
impl contracts::Config for Wiring {
    fn pay_providers(
        ext: &mut Ext,
        workers: &[[u8; 32]],
        amount: phala_primitives::Balance,
    ) -> phala_primitives::Balance {
        computation::pay_providers::<Wiring>(ext, workers, amount)
    }
}

/// Sessions are owned by stake pools: their money moves the pools' books.
impl computation::Hooks for Wiring {
    fn on_reward(
        ext: &mut Ext,
        owner: &phala_primitives::AccountId32,
        _worker: &[u8; 32],
        amount: phala_primitives::Balance,
    ) {
        stake_pools::on_reward(ext, owner, amount);
    }

    fn on_slashed(
        ext: &mut Ext,
        owner: &phala_primitives::AccountId32,
        _worker: &[u8; 32],
        amount: phala_primitives::Balance,
    ) {
        stake_pools::on_slashed(ext, owner, amount);
    }

    /// A gatekeeper is a validator's enclave: its operator's bond answers for it.
    fn on_gatekeeper_fault(
        ext: &mut Ext,
        _gatekeeper: &[u8; 32],
        operator: Option<phala_primitives::AccountId32>,
        offence: [u8; 32],
    ) -> Result<phala_primitives::Balance, crate::dispatch::DispatchError> {
        match operator {
            Some(operator) => crate::modules::validators::slash_bond(ext, &operator, offence),
            None => Ok(0),
        }
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
