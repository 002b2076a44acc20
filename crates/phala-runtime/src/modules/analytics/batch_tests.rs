//! Batches of ingested events, sent by cluster members as signed messages.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_mq::analytics::{ANALYTICS_BATCH, AnalyticsBatch, MAX_SEALED_BATCH};
use phala_primitives::{H256, PHA};

use super::*;
use crate::modules::contracts::{CLUSTERS, ClusterInfo, WORKER_CLUSTER};
use crate::modules::registry::gatekeeper_tests::{Net, Worker};
use crate::modules::{TREASURY_ACCOUNT, balances, message_queue};
use crate::testing::account;

const CLUSTER: H256 = H256([0xc1; 32]);

/// A net with `member` in the cluster, `outsider` in none, and site 0 prepaid `prepay`.
fn setup(prepay: phala_primitives::Balance) -> (Net, Worker, Worker) {
    let mut net = Net::new();
    let member = net.worker("//Member", 1);
    let outsider = net.worker("//Outsider", 2);
    let alice = account("//Alice");
    net.chain.mutate(|ext| {
        CLUSTERS.insert(
            ext,
            &CLUSTER,
            &ClusterInfo {
                workers: vec![member.pair.public()],
                master_version: 0,
                pubkey: Some([2; 32]),
                ecdh_pubkey: Some([3; 32]),
                created_at: 0,
            },
        );
        WORKER_CLUSTER.insert(ext, &member.pair.public(), &CLUSTER);
        SITES.insert(
            ext,
            &0,
            &SiteInfo {
                owner: alice,
                domain: b"shop.example".to_vec(),
                cluster: CLUSTER,
                config: SiteConfig {
                    retention_days: 30,
                    purposes: purpose::ALL,
                    min_cohort: 5,
                    dp: None,
                },
                registered_at: 0,
            },
        );
        balances::transfer(ext, &alice, &site_account(0), prepay, true).unwrap();
    });
    (net, member, outsider)
}

fn batch(site: u64, len: usize) -> Vec<u8> {
    let sealed = Envelope::seal_with(
        &EcdhSecret::from_bytes([9; 32]),
        [0; 12],
        &[3; 32],
        Purpose::Command,
        None,
        &vec![7; len],
    )
    .unwrap();
    AnalyticsBatch {
        site,
        events: 3,
        sealed,
    }
    .encode()
}

fn relayed(net: &Net) -> Vec<AnalyticsMessage> {
    message_queue::OUTBOUND_MESSAGES
        .get_or_default(&net.chain.ext())
        .into_iter()
        .filter(|m| m.destination == phala_mq::analytics::ANALYTICS_COMMAND)
        .map(|m| AnalyticsMessage::decode(&mut m.payload.as_slice()).unwrap())
        .collect()
}

#[test]
fn a_members_batch_is_charged_to_the_site_numbered_and_relayed() {
    let (mut net, mut member, mut outsider) = setup(PHA);
    let payload = batch(0, 1_000);
    let treasury = balances::free_balance(&net.chain.ext(), &TREASURY_ACCOUNT);
    net.send(&mut member, ANALYTICS_BATCH, payload.clone())
        .unwrap();
    let sealed_len = AnalyticsBatch::decode(&mut payload.as_slice())
        .unwrap()
        .sealed
        .encoded_size() as u128;
    let price = PRICE_PER_BYTE * sealed_len;
    assert_eq!(
        balances::free_balance(&net.chain.ext(), &site_account(0)),
        PHA - price
    );
    assert!(balances::free_balance(&net.chain.ext(), &TREASURY_ACCOUNT) >= treasury + price);
    assert!(matches!(
        relayed(&net).as_slice(),
        [AnalyticsMessage {
            cluster: CLUSTER,
            command: AnalyticsCommand::Batch {
                site: 0,
                id: 0,
                events: 3,
                ..
            }
        }]
    ));
    net.send(&mut member, ANALYTICS_BATCH, payload.clone())
        .unwrap();
    assert!(matches!(
        relayed(&net).as_slice(),
        [AnalyticsMessage {
            command: AnalyticsCommand::Batch { id: 1, .. },
            ..
        }]
    ));

    // Not a member, not a site, not a batch, too large: refused, nothing charged.
    let left = balances::free_balance(&net.chain.ext(), &site_account(0));
    for (from_member, payload, want) in [
        (false, payload.clone(), Error::NotInCluster),
        (true, batch(1, 10), Error::UnknownSite),
        (true, vec![1, 2, 3], Error::BadBatch),
        (true, batch(0, MAX_SEALED_BATCH), Error::BadBatch),
    ] {
        let w = if from_member {
            &mut member
        } else {
            &mut outsider
        };
        assert_eq!(net.send(w, ANALYTICS_BATCH, payload), Err(want.into()));
    }
    assert_eq!(
        balances::free_balance(&net.chain.ext(), &site_account(0)),
        left
    );
}

#[test]
fn an_exhausted_prepayment_refuses_batches_until_topped_up() {
    // Enough for the existential deposit and a little more: one 40 KiB batch is too much.
    let (mut net, mut member, _) = setup(balances::EXISTENTIAL_DEPOSIT + PRICE_PER_BYTE * 1_000);
    assert_eq!(
        net.send(&mut member, ANALYTICS_BATCH, batch(0, 40_000)),
        Err(Error::PrepaymentExhausted.into())
    );
    let alice = account("//Alice");
    net.chain
        .mutate(|ext| balances::transfer(ext, &alice, &site_account(0), PHA, true).unwrap());
    net.send(&mut member, ANALYTICS_BATCH, batch(0, 40_000))
        .unwrap();
    // The account stays open, above the existential deposit.
    assert!(
        balances::free_balance(&net.chain.ext(), &site_account(0)) >= balances::EXISTENTIAL_DEPOSIT
    );
    net.chain.check_invariants();
}
