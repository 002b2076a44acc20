//! Bad p2p input, in the deterministic simulation: a peer that sends garbage, an oversized
//! block or an undecodable vote is blocked by every honest validator, which keep finalizing;
//! a peer outside every tracked set is not heard at all.

mod sim;

use std::time::Duration;

use commonware_p2p::{Recipients, Sender as _};
use commonware_runtime::{Quota, Runner as _};
use commonware_utils::NZU32;
use phala_node::consensus::block::MAX_BLOCK_BYTES;
use phala_node::consensus::engine::{
    BACKFILL_CHANNEL, BROADCAST_CHANNEL, CERT_CHANNEL, TX_CHANNEL, VOTE_CHANNEL,
};
use sim::{Sim, good_link, runner};

const NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// Alice..Dave are the committee; Eve is a bonded candidate outside it (a tracked secondary
/// peer, allowed to connect); Ferdie is nobody.
fn spec() -> phala_chain::ChainSpec {
    let mut spec = sim::spec(5, 10);
    spec.committee_size = 4;
    spec.validators[4].bond = (phala_chain::dev::DEV_BOND / 2).to_string();
    spec
}

/// Eve sends `payload` on `channel` once the chain runs; returns who blocked whom, after
/// checking that the honest validators kept finalizing.
fn attack(seed: u64, channel: u64, payload: Vec<u8>, from: usize) -> Vec<(usize, usize)> {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec();
    runner(seed, Duration::from_secs(300)).start(|ctx| async move {
        let mut sim = Sim::new(&ctx, spec, dir.path(), &NAMES, good_link()).await;
        sim.start_each(0..4);
        sim.wait_for(&[0, 1, 2, 3], 3, Duration::from_secs(60))
            .await;
        let control = sim.oracle.control(sim.key(from));
        let (mut sender, _receiver) = control
            .register(channel, Quota::per_second(NZU32!(1024)))
            .await
            .unwrap();
        sender.send(Recipients::All, payload, false);
        let tip = sim.heights()[0];
        sim.wait_for(&[0, 1, 2, 3], tip + 5, Duration::from_secs(60))
            .await;
        sim.assert_no_fork();
        let index = |key| (0..NAMES.len()).find(|&i| sim.key(i) == key).unwrap();
        sim.oracle
            .blocked()
            .await
            .unwrap()
            .into_iter()
            .map(|(by, whom)| (index(by), index(whom)))
            .collect()
    })
}

fn blocked_by_all(blocked: &[(usize, usize)], offender: usize) {
    for honest in 0..4 {
        assert!(
            blocked.contains(&(honest, offender)),
            "validator {honest} did not block the offender: {blocked:?}"
        );
    }
    assert!(
        blocked.iter().all(|&(_, whom)| whom == offender),
        "an honest peer was blocked: {blocked:?}"
    );
}

#[test]
fn garbage_block_gets_the_sender_blocked() {
    blocked_by_all(&attack(1, BROADCAST_CHANNEL, vec![0xff; 40], 4), 4);
}

#[test]
fn oversized_block_gets_the_sender_blocked() {
    // A length prefix one byte over the limit, followed by that many bytes.
    let len = MAX_BLOCK_BYTES + 1;
    let mut payload = Vec::with_capacity(len + 5);
    let mut n = len;
    while n >= 0x80 {
        payload.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    payload.push(n as u8);
    payload.resize(payload.len() + len, 0);
    assert!(payload.len() <= phala_node::consensus::engine::max_message_size(4) as usize);
    blocked_by_all(&attack(2, BROADCAST_CHANNEL, payload, 4), 4);
}

#[test]
fn garbage_transaction_gets_the_sender_blocked() {
    blocked_by_all(&attack(3, TX_CHANNEL, vec![0x04, 0xff, 0xff], 4), 4);
}

#[test]
fn garbage_vote_gets_the_sender_blocked() {
    // Epoch 0's subchannel, then bytes that are no vote.
    blocked_by_all(&attack(4, VOTE_CHANNEL, vec![0x00, 0xff, 0xff, 0xff], 4), 4);
}

#[test]
fn garbage_certificate_gets_the_sender_blocked() {
    blocked_by_all(&attack(5, CERT_CHANNEL, vec![0x00, 0xff, 0xff, 0xff], 4), 4);
}

#[test]
fn garbage_backfill_message_is_harmless() {
    let blocked = attack(6, BACKFILL_CHANNEL, vec![0xff; 64], 4);
    assert!(blocked.iter().all(|&(_, whom)| whom == 4), "{blocked:?}");
}

#[test]
fn outsiders_are_not_heard() {
    // Ferdie is in no tracked peer set: the network delivers nothing from him, so there is
    // nothing to block and nothing changes.
    let blocked = attack(7, VOTE_CHANNEL, vec![0x00, 0xff, 0xff, 0xff], 5);
    assert!(blocked.is_empty(), "{blocked:?}");
}
