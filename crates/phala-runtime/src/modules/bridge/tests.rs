use parity_scale_codec::Encode;
use phala_primitives::{AccountId32, PHA};
use proptest::prelude::*;

use super::harness::{Chain, bridge_error, update_client};
use super::*;
use crate::bounded::BoundedBytes;
use crate::modules::balances::EXISTENTIAL_DEPOSIT;
use crate::modules::system;
use crate::testing::account;

const RELAYER: &str = "//Charlie";
const FOUR: [&str; 4] = ["//Alice", "//Bob", "//Charlie", "//Dave"];

/// Chains A and B with a client of each other (id 0 on both) and channel 0 open between
/// them.
struct Pair {
    a: Chain,
    b: Chain,
}

/// Which way a relay goes.
#[derive(Clone, Copy, Debug)]
enum Dir {
    AtoB,
    BtoA,
}

impl Pair {
    fn new() -> Self {
        Self::with_epoch(10)
    }

    fn with_epoch(epoch_length: u32) -> Self {
        let mut a = Chain::new(1, epoch_length, &FOUR);
        let mut b = Chain::new(2, epoch_length, &FOUR);
        a.produce(vec![]);
        b.produce(vec![]);
        let day = 86_400_000;
        a.root(Call::create_client {
            trusted: b.trusted_state(),
            trusting_period_ms: day,
        })
        .unwrap();
        b.root(Call::create_client {
            trusted: a.trusted_state(),
            trusting_period_ms: day,
        })
        .unwrap();
        a.root(Call::open_channel {
            client: 0,
            counterparty_channel: 0,
        })
        .unwrap();
        b.root(Call::open_channel {
            client: 0,
            counterparty_channel: 0,
        })
        .unwrap();
        a.produce(vec![]);
        b.produce(vec![]);
        let mut pair = Pair { a, b };
        for dir in [Dir::AtoB, Dir::BtoA] {
            pair.update(dir).unwrap();
            let (src, dst) = pair.ends(dir);
            let h = dst.client(0).latest_height;
            let proof = src.proof(h, &[channel_key(0), client_key(0)]);
            dst.submit(
                RELAYER,
                Call::confirm_channel {
                    channel: 0,
                    proof_height: h,
                    proof,
                },
            )
            .unwrap();
        }
        assert_eq!(pair.a.channel(0).state, ChannelState::Open);
        assert_eq!(pair.b.channel(0).state, ChannelState::Open);
        pair
    }

    fn ends(&mut self, dir: Dir) -> (&mut Chain, &mut Chain) {
        match dir {
            Dir::AtoB => (&mut self.a, &mut self.b),
            Dir::BtoA => (&mut self.b, &mut self.a),
        }
    }

    /// Brings the destination's client of the source up to the source's head.
    fn update(&mut self, dir: Dir) -> Result<(), crate::dispatch::DispatchError> {
        let (src, dst) = self.ends(dir);
        update_client(src, dst, 0, RELAYER)
    }

    /// Delivers the source's packet `seq` on channel 0 to the destination, proven at the
    /// destination client's latest height.
    fn deliver(&mut self, dir: Dir, packet: &Packet) -> Result<(), crate::dispatch::DispatchError> {
        self.update(dir)?;
        let (src, dst) = self.ends(dir);
        let h = dst.client(0).latest_height;
        let proof = src.proof(h, &[packet_key(packet.source_channel, packet.sequence)]);
        dst.submit(
            RELAYER,
            Call::recv_packet {
                packet: packet.clone(),
                proof_height: h,
                proof,
            },
        )
        .map(|_| ())
    }

    /// Carries the acknowledgement of `packet` (sent from the source of `dir`) back to it.
    fn acknowledge(
        &mut self,
        dir: Dir,
        packet: &Packet,
    ) -> Result<(), crate::dispatch::DispatchError> {
        let back = match dir {
            Dir::AtoB => Dir::BtoA,
            Dir::BtoA => Dir::AtoB,
        };
        self.update(back)?;
        let (receiver, sender) = self.ends(back);
        let ack = ACKS
            .get(&receiver.ext(), &packet.dest_channel, &packet.sequence)
            .expect("no ack")
            .ack;
        let h = sender.client(0).latest_height;
        let proof = receiver.proof(h, &[ack_key(packet.dest_channel, packet.sequence)]);
        sender
            .submit(
                RELAYER,
                Call::acknowledge_packet {
                    packet: packet.clone(),
                    ack,
                    proof_height: h,
                    proof,
                },
            )
            .map(|_| ())
    }

    /// Everything pending either way delivered and acknowledged, in order.
    fn drain(&mut self) {
        for dir in [Dir::AtoB, Dir::BtoA] {
            let packets = self.ends(dir).0.pending_packets(0);
            for p in &packets {
                let received = self.ends(dir).1.channel(0).next_recv > p.sequence;
                if !received {
                    self.deliver(dir, p).unwrap();
                }
                self.acknowledge(dir, p).unwrap();
            }
        }
    }

    fn send(
        &mut self,
        from_a: bool,
        who: &str,
        to: &str,
        asset: Option<H256>,
        amount: u128,
        timeout: Timeout,
    ) -> Result<(), crate::dispatch::DispatchError> {
        let chain = if from_a { &mut self.a } else { &mut self.b };
        chain
            .submit(
                who,
                Call::transfer {
                    channel: 0,
                    asset,
                    receiver: account(to),
                    amount,
                    timeout,
                },
            )
            .map(|_| ())
    }

    /// Bridged supply on one side never exceeds what the other side's escrow holds for it,
    /// and each escrow account holds exactly its seed plus what is recorded as locked.
    fn check_invariants(&self) {
        for (home, away) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let native = asset_id(&native_denom());
            let locked = ESCROWED.get_or_default(&home.ext(), &0, &native);
            assert_eq!(
                home.free(&escrow_account(0)),
                EXISTENTIAL_DEPOSIT + locked,
                "escrow account and its books differ"
            );
            let voucher = asset_id(&Denom {
                path: BoundedVec::new(vec![0]).unwrap(),
                base: native_denom().base,
            });
            let supply = ASSETS
                .get(&away.ext(), &voucher)
                .map(|a| a.supply)
                .unwrap_or(0);
            assert!(
                supply <= locked,
                "{supply} vouchers against {locked} locked"
            );
        }
    }
}

fn timeout_in(height: u32) -> Timeout {
    Timeout {
        height,
        timestamp: 0,
    }
}

fn voucher_of_pha() -> H256 {
    asset_id(&Denom {
        path: BoundedVec::new(vec![0]).unwrap(),
        base: native_denom().base,
    })
}

#[test]
fn pha_goes_to_b_as_a_voucher_and_comes_back() {
    let mut p = Pair::new();
    let alice = account("//Alice");
    let bob = account("//Bob");
    let a_issuance = crate::modules::balances::total_issuance(&p.a.ext());
    let b_issuance = crate::modules::balances::total_issuance(&p.b.ext());
    let alice_before = p.a.free(&alice);
    p.send(true, "//Alice", "//Bob", None, 100 * PHA, timeout_in(1_000))
        .unwrap();
    let sent = p.a.pending_packets(0);
    assert_eq!(sent.len(), 1);
    assert!(alice_before - p.a.free(&alice) >= 100 * PHA);
    assert_eq!(
        p.a.free(&escrow_account(0)),
        EXISTENTIAL_DEPOSIT + 100 * PHA
    );
    p.check_invariants();

    p.deliver(Dir::AtoB, &sent[0]).unwrap();
    let voucher = voucher_of_pha();
    assert_eq!(asset_balance(&p.b.ext(), &voucher, &bob), 100 * PHA);
    assert_eq!(ASSETS.get(&p.b.ext(), &voucher).unwrap().supply, 100 * PHA);
    // PHA's issuance on B is untouched: the voucher is its own asset.
    assert_eq!(
        crate::modules::balances::total_issuance(&p.b.ext()),
        b_issuance
    );
    p.check_invariants();
    p.acknowledge(Dir::AtoB, &sent[0]).unwrap();
    assert!(p.a.pending_packets(0).is_empty());

    // Bob sends 40 back: burned on B, unlocked on A to Alice.
    let alice_mid = p.a.free(&alice);
    p.send(
        false,
        "//Bob",
        "//Alice",
        Some(voucher),
        40 * PHA,
        timeout_in(1_000),
    )
    .unwrap();
    assert_eq!(asset_balance(&p.b.ext(), &voucher, &bob), 60 * PHA);
    p.check_invariants();
    p.drain();
    assert_eq!(p.a.free(&alice), alice_mid + 40 * PHA);
    assert_eq!(p.a.free(&escrow_account(0)), EXISTENTIAL_DEPOSIT + 60 * PHA);
    assert_eq!(ASSETS.get(&p.b.ext(), &voucher).unwrap().supply, 60 * PHA);
    // Fees went to A's treasury; nothing was created or destroyed on A.
    assert_eq!(
        crate::modules::balances::total_issuance(&p.a.ext()),
        a_issuance
    );
    p.check_invariants();
}

#[test]
fn a_packet_past_its_timeout_is_refunded_and_the_channel_goes_on() {
    let mut p = Pair::new();
    let alice = account("//Alice");
    let b_height = p.b.height();
    p.send(
        true,
        "//Alice",
        "//Bob",
        None,
        5 * PHA,
        timeout_in(b_height + 3),
    )
    .unwrap();
    let alice_after_send = p.a.free(&alice);
    let late = p.a.pending_packets(0)[0].clone();
    for _ in 0..4 {
        p.b.produce(vec![]);
    }
    p.deliver(Dir::AtoB, &late).unwrap();
    assert_eq!(
        ACKS.get(&p.b.ext(), &0, &late.sequence).map(|r| r.ack),
        Some(Ack::TimedOut)
    );
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        0
    );
    p.acknowledge(Dir::AtoB, &late).unwrap();
    // Refunded whole (the acknowledgement's fee is the relayer's).
    assert_eq!(p.a.free(&alice), alice_after_send + 5 * PHA);
    assert_eq!(p.a.free(&escrow_account(0)), EXISTENTIAL_DEPOSIT);
    p.check_invariants();

    // The ordered channel did not close: the next packet goes through.
    let h = p.b.height();
    p.send(true, "//Alice", "//Bob", None, 2 * PHA, timeout_in(h + 100))
        .unwrap();
    p.drain();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        2 * PHA
    );
    p.check_invariants();
}

#[test]
fn a_send_whose_timeout_the_client_already_sees_passed_is_refused() {
    let mut p = Pair::new();
    let h = p.a.client(0).latest_height;
    assert_eq!(
        p.send(true, "//Alice", "//Bob", None, PHA, timeout_in(h)),
        Err(bridge_error(Error::BadTimeout))
    );
    assert_eq!(
        p.send(true, "//Alice", "//Bob", None, PHA, Timeout::default()),
        Err(bridge_error(Error::BadTimeout))
    );
    assert_eq!(
        p.send(true, "//Alice", "//Bob", None, 0, timeout_in(h + 10)),
        Err(bridge_error(Error::ZeroAmount))
    );
}

#[test]
fn replayed_forged_misdirected_and_out_of_order_packets_are_refused() {
    let mut p = Pair::new();
    let h = p.b.height() + 1_000;
    p.send(true, "//Alice", "//Bob", None, PHA, timeout_in(h))
        .unwrap();
    p.send(true, "//Alice", "//Bob", None, 2 * PHA, timeout_in(h))
        .unwrap();
    let packets = p.a.pending_packets(0);
    let (first, second) = (packets[0].clone(), packets[1].clone());

    // Out of order: 2 before 1.
    assert_eq!(
        p.deliver(Dir::AtoB, &second),
        Err(bridge_error(Error::OutOfOrder))
    );

    // Forged: a bigger amount than was sent, with the real proof.
    let mut forged = first.clone();
    let PacketData::Transfer(ref mut t) = forged.data else {
        unreachable!("a transfer was sent")
    };
    t.amount = 1_000 * PHA;
    assert_eq!(
        p.deliver(Dir::AtoB, &forged),
        Err(bridge_error(Error::ProofMismatch))
    );

    // Forged: a proof that does not reach the key (another key's proof).
    p.update(Dir::AtoB).unwrap();
    let hb = p.b.client(0).latest_height;
    let wrong_proof = p.a.proof(hb, &[channel_key(0)]);
    assert_eq!(
        p.b.submit(
            RELAYER,
            Call::recv_packet {
                packet: first.clone(),
                proof_height: hb,
                proof: wrong_proof,
            },
        ),
        Err(bridge_error(Error::BadProof))
    );
    // A height the client never verified.
    let proof = p.a.proof(hb, &[packet_key(0, 1)]);
    assert_eq!(
        p.b.submit(
            RELAYER,
            Call::recv_packet {
                packet: first.clone(),
                proof_height: hb + 1_000,
                proof,
            },
        ),
        Err(bridge_error(Error::UnknownHeight))
    );

    // Wrong channel: the packet claims another source channel.
    let mut misdirected = first.clone();
    misdirected.source_channel = 7;
    assert_eq!(
        p.deliver(Dir::AtoB, &misdirected),
        Err(bridge_error(Error::WrongChannel))
    );
    let mut unknown = first.clone();
    unknown.dest_channel = 9;
    assert_eq!(
        p.deliver(Dir::AtoB, &unknown),
        Err(bridge_error(Error::UnknownChannel))
    );

    // The real one goes through once; its replay is refused.
    p.deliver(Dir::AtoB, &first).unwrap();
    assert_eq!(
        p.deliver(Dir::AtoB, &first),
        Err(bridge_error(Error::AlreadyReceived))
    );
    p.deliver(Dir::AtoB, &second).unwrap();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        3 * PHA
    );

    // Acknowledgements: in order, once, and only as the receiver wrote them.
    assert_eq!(
        p.acknowledge(Dir::AtoB, &second),
        Err(bridge_error(Error::OutOfOrder))
    );
    p.update(Dir::BtoA).unwrap();
    let ha = p.a.client(0).latest_height;
    let proof = p.b.proof(ha, &[ack_key(0, 1)]);
    assert_eq!(
        p.a.submit(
            RELAYER,
            Call::acknowledge_packet {
                packet: first.clone(),
                ack: Ack::Error(BoundedBytes::new(b"lie".to_vec()).unwrap()),
                proof_height: ha,
                proof,
            },
        ),
        Err(bridge_error(Error::ProofMismatch))
    );
    p.acknowledge(Dir::AtoB, &first).unwrap();
    assert_eq!(
        p.acknowledge(Dir::AtoB, &first),
        Err(bridge_error(Error::AlreadyAcknowledged))
    );
    p.acknowledge(Dir::AtoB, &second).unwrap();
    p.check_invariants();
}

#[test]
fn an_invalid_transfer_gets_an_error_ack_and_a_refund_without_side_effects() {
    let mut p = Pair::new();
    // A receiver on B that does not exist gets vouchers (no existential deposit for them),
    // but a voucher coming home to a fresh account below A's existential deposit cannot
    // be unlocked: B burns it, A answers with an error, B re-mints it to the sender.
    let h = p.b.height() + 1_000;
    p.send(true, "//Alice", "//Bob", None, 10 * PHA, timeout_in(h))
        .unwrap();
    p.drain();
    let voucher = voucher_of_pha();
    let bob = account("//Bob");
    let fresh = "//Nobody";
    let ha = p.a.height() + 1_000;
    p.send(
        false,
        "//Bob",
        fresh,
        Some(voucher),
        EXISTENTIAL_DEPOSIT / 2,
        timeout_in(ha),
    )
    .unwrap();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher, &bob),
        10 * PHA - EXISTENTIAL_DEPOSIT / 2
    );
    let packet = p.b.pending_packets(0)[0].clone();
    p.deliver(Dir::BtoA, &packet).unwrap();
    let ack = ACKS.get(&p.a.ext(), &0, &packet.sequence).unwrap().ack;
    assert_eq!(
        ack,
        Ack::Error(BoundedBytes::new(b"CannotReceive".to_vec()).unwrap())
    );
    // The failed unlock left no trace: no transfer event, escrow intact.
    let events = p.a.tc.events_of(1);
    assert!(!events.iter().any(|e| matches!(
        e,
        crate::RuntimeEvent::Bridge(Event::TransferReceived { .. })
            | crate::RuntimeEvent::Balances(crate::modules::balances::Event::Transfer { .. })
    )));
    assert_eq!(p.a.free(&escrow_account(0)), EXISTENTIAL_DEPOSIT + 10 * PHA);
    p.acknowledge(Dir::BtoA, &packet).unwrap();
    assert_eq!(asset_balance(&p.b.ext(), &voucher, &bob), 10 * PHA);
    p.check_invariants();
}

#[test]
fn the_client_follows_a_committee_change_and_refuses_the_old_committee() {
    let mut p = Pair::with_epoch(6);
    let epoch =
        p.a.set_next_committee(&["//Eve", "//Ferdie", "//Alice", "//Bob"]);
    while p.a.epoch_of(p.a.height()) < epoch {
        p.a.produce(vec![]);
    }
    p.update(Dir::AtoB).unwrap();
    let client = p.b.client(0);
    assert_eq!(client.epoch, epoch);
    assert!(
        client
            .committee
            .contains(&phala_keys::Ed25519Pair::from_uri("//Eve").unwrap().public())
    );
    // A header of the new epoch signed by the old committee is refused.
    p.a.produce(vec![]);
    let n = p.a.height();
    let header = p.a.header(n).clone();
    let stale = super::harness::certify(
        &p.a.genesis,
        header.hash(),
        n,
        p.a.epoch_of(n),
        &super::harness::committee(&FOUR),
    );
    let proof = p.a.proof(n, &[crate::modules::timestamp::NOW.key()]);
    assert_eq!(
        p.b.submit(
            RELAYER,
            Call::update_client {
                client: 0,
                header: BoundedBytes::new(header.encode()).unwrap(),
                certificate: BoundedBytes::new(stale).unwrap(),
                timestamp_proof: proof,
            },
        ),
        Err(bridge_error(Error::BadHeader))
    );
    // Packets keep flowing over the new committee's headers.
    let h = p.b.height() + 1_000;
    p.send(true, "//Alice", "//Bob", None, PHA, timeout_in(h))
        .unwrap();
    p.drain();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        PHA
    );
}

#[test]
fn a_conflicting_certified_header_freezes_the_client_and_stops_the_channel() {
    let mut p = Pair::new();
    p.a.produce(vec![]);
    p.update(Dir::AtoB).unwrap();
    let n = p.b.client(0).latest_height;
    let mut other = p.a.header(n).clone();
    other.extrinsics_root = H256([9; 32]);
    let cert = super::harness::certify(
        &p.a.genesis,
        other.hash(),
        n,
        p.a.epoch_of(n),
        &super::harness::committee(&FOUR),
    );
    let proof = p.a.proof(n, &[crate::modules::timestamp::NOW.key()]);
    p.b.submit(
        RELAYER,
        Call::update_client {
            client: 0,
            header: BoundedBytes::new(other.encode()).unwrap(),
            certificate: BoundedBytes::new(cert).unwrap(),
            timestamp_proof: proof,
        },
    )
    .unwrap();
    assert_eq!(p.b.client(0).status, ClientStatus::Frozen { height: n });
    // Resubmitting the accepted header is refused as known, not taken as evidence.
    let h = p.b.height() + 100;
    assert_eq!(
        p.send(false, "//Bob", "//Alice", None, PHA, timeout_in(h)),
        Err(bridge_error(Error::ClientFrozen))
    );
}

#[test]
fn a_client_not_updated_within_its_trusting_period_expires() {
    let mut a = Chain::new(1, 10, &FOUR);
    let mut b = Chain::new(2, 10, &FOUR);
    b.root(Call::create_client {
        trusted: a.trusted_state(),
        trusting_period_ms: 5_000,
    })
    .unwrap();
    for _ in 0..10 {
        b.produce(vec![]);
        a.produce(vec![]);
    }
    assert_eq!(
        update_client(&a, &mut b, 0, RELAYER),
        Err(bridge_error(Error::ClientExpired))
    );
}

#[test]
fn channels_open_only_against_an_end_that_names_them_on_a_client_of_this_chain() {
    let mut a = Chain::new(1, 10, &FOUR);
    let mut b = Chain::new(2, 10, &FOUR);
    let mut c = Chain::new(3, 10, &FOUR);
    b.root(Call::create_client {
        trusted: a.trusted_state(),
        trusting_period_ms: 86_400_000,
    })
    .unwrap();
    // A's client 0 tracks C, not B; its channel 0 names B's channel 0.
    a.root(Call::create_client {
        trusted: c.trusted_state(),
        trusting_period_ms: 86_400_000,
    })
    .unwrap();
    a.root(Call::open_channel {
        client: 0,
        counterparty_channel: 0,
    })
    .unwrap();
    b.root(Call::open_channel {
        client: 0,
        counterparty_channel: 0,
    })
    .unwrap();
    a.produce(vec![]);
    c.produce(vec![]);
    update_client(&a, &mut b, 0, RELAYER).unwrap();
    let h = b.client(0).latest_height;
    let proof = a.proof(h, &[channel_key(0), client_key(0)]);
    assert_eq!(
        b.submit(
            RELAYER,
            Call::confirm_channel {
                channel: 0,
                proof_height: h,
                proof,
            },
        ),
        Err(bridge_error(Error::CounterpartyMismatch))
    );
    // Only root opens channels and creates clients.
    assert_eq!(
        b.submit(
            "//Bob",
            Call::open_channel {
                client: 0,
                counterparty_channel: 0,
            },
        ),
        Err(crate::dispatch::DispatchError::BadOrigin)
    );
    assert_eq!(b.channel(0).state, ChannelState::Init);
    // Transfers on a channel not yet open are refused.
    assert_eq!(
        b.submit(
            "//Bob",
            Call::transfer {
                channel: 0,
                asset: None,
                receiver: account("//Alice"),
                amount: PHA,
                timeout: timeout_in(1_000),
            },
        ),
        Err(bridge_error(Error::ChannelNotOpen))
    );
}

#[test]
fn a_chain_before_the_bridge_version_refuses_bridge_calls() {
    let mut a = Chain::new(1, 10, &FOUR);
    let b = Chain::new(2, 10, &FOUR);
    a.tc.mutate(|ext| {
        let mut upgrade = system::LAST_RUNTIME_UPGRADE.get(ext).unwrap();
        upgrade.spec_version = parity_scale_codec::Compact(8);
        system::LAST_RUNTIME_UPGRADE.put(ext, &upgrade);
    });
    assert_eq!(
        a.root(Call::create_client {
            trusted: b.trusted_state(),
            trusting_period_ms: 1,
        }),
        Err(bridge_error(Error::NeedsUpgrade))
    );
}

#[test]
fn golden_storage_keys_and_encodings() {
    // The counterparty computes these keys: they must never change.
    assert_eq!(
        hex::encode(packet_key(0, 1)),
        hex::encode(
            [
                phala_primitives::storage::prefix("Bridge", "Packets"),
                phala_primitives::hashing::twox_64(&0u32.encode()).to_vec(),
                0u32.encode(),
                phala_primitives::hashing::twox_64(&1u64.encode()).to_vec(),
                1u64.encode(),
            ]
            .concat()
        )
    );
    assert_eq!(Ack::TimedOut.encode(), vec![2]);
    assert_eq!(
        hex::encode(escrow_account(1).0),
        "6d6f646c706862722f6573630100000000000000000000000000000000000000"
    );
}

/// One step of a random schedule.
#[derive(Clone, Debug)]
enum Step {
    SendAtoB {
        amount: u8,
        timeout: u8,
    },
    SendBtoA {
        amount: u8,
        timeout: u8,
    },
    Blocks {
        a: u8,
        b: u8,
    },
    Deliver {
        dir: bool,
        replay: bool,
    },
    Acknowledge {
        dir: bool,
    },
    /// A relayer that forgot everything: it learns what is pending from state again.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u8..50, 1u8..12).prop_map(|(amount, timeout)| Step::SendAtoB { amount, timeout }),
        (1u8..50, 1u8..12).prop_map(|(amount, timeout)| Step::SendBtoA { amount, timeout }),
        (0u8..4, 0u8..4).prop_map(|(a, b)| Step::Blocks { a, b }),
        (any::<bool>(), any::<bool>()).prop_map(|(dir, replay)| Step::Deliver { dir, replay }),
        any::<bool>().prop_map(|dir| Step::Acknowledge { dir }),
        Just(Step::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Random interleavings of transfers, deliveries (some replayed), acknowledgements,
    /// timeouts and relayer restarts: nothing is minted without escrow, nothing is lost,
    /// nothing is delivered twice, and once drained every packet has exactly one outcome.
    #[test]
    fn exactly_once_and_nothing_created_or_lost(steps in proptest::collection::vec(step(), 1..24)) {
        let mut p = Pair::new();
        let issuance = (
            crate::modules::balances::total_issuance(&p.a.ext()),
            crate::modules::balances::total_issuance(&p.b.ext()),
        );
        // Give Bob vouchers to send back, and A some of B's PHA the other way.
        p.send(true, "//Alice", "//Bob", None, 200 * PHA, timeout_in(10_000)).unwrap();
        p.send(false, "//Bob", "//Alice", None, 200 * PHA, timeout_in(10_000)).unwrap();
        p.drain();
        let voucher = voucher_of_pha();
        // The relayer's memory: packets it saw, delivered or not.
        let mut seen: Vec<(bool, Packet)> = Vec::new();
        let mut received: std::collections::BTreeMap<(bool, u64), Ack> = Default::default();
        for s in steps {
            match s {
                Step::SendAtoB { amount, timeout } => {
                    let h = p.b.height() + u32::from(timeout);
                    // Alternate native PHA and B's vouchers going home.
                    let asset = (amount % 2 == 0).then(|| asset_id(&Denom { path: BoundedVec::new(vec![0]).unwrap(), base: native_denom().base }));
                    let _ = p.send(true, "//Alice", "//Bob", asset, u128::from(amount) * PHA / 10, timeout_in(h));
                }
                Step::SendBtoA { amount, timeout } => {
                    let h = p.a.height() + u32::from(timeout);
                    let asset = (amount % 2 == 0).then_some(voucher);
                    let _ = p.send(false, "//Bob", "//Alice", asset, u128::from(amount) * PHA / 10, timeout_in(h));
                }
                Step::Blocks { a, b } => {
                    for _ in 0..a { p.a.produce(vec![]); }
                    for _ in 0..b { p.b.produce(vec![]); }
                }
                Step::Deliver { dir, replay } => {
                    let d = if dir { Dir::AtoB } else { Dir::BtoA };
                    let pending = p.ends(d).0.pending_packets(0);
                    for packet in &pending {
                        if !seen.iter().any(|(x, q)| *x == dir && q == packet) {
                            seen.push((dir, packet.clone()));
                        }
                    }
                    let next = p.ends(d).1.channel(0).next_recv;
                    let target = if replay {
                        seen.iter().filter(|(x, q)| *x == dir && q.sequence < next).map(|(_, q)| q.clone()).next_back()
                    } else {
                        pending.iter().find(|q| q.sequence == next).cloned()
                    };
                    if let Some(packet) = target {
                        let result = p.deliver(d, &packet);
                        if replay {
                            prop_assert_eq!(result, Err(bridge_error(Error::AlreadyReceived)));
                        } else {
                            prop_assert!(result.is_ok(), "{:?}", result);
                            let ack = ACKS.get(&p.ends(d).1.ext(), &0, &packet.sequence).unwrap().ack;
                            prop_assert!(received.insert((dir, packet.sequence), ack).is_none(), "received twice");
                        }
                    }
                }
                Step::Acknowledge { dir } => {
                    let d = if dir { Dir::AtoB } else { Dir::BtoA };
                    let next_ack = p.ends(d).0.channel(0).next_ack;
                    if received.contains_key(&(dir, next_ack)) {
                        let packet = PACKETS.get(&p.ends(d).0.ext(), &0, &next_ack).unwrap();
                        prop_assert!(p.acknowledge(d, &packet).is_ok());
                        prop_assert_eq!(p.acknowledge(d, &packet), Err(bridge_error(Error::AlreadyAcknowledged)));
                    }
                }
                Step::Restart => seen.clear(),
            }
            p.check_invariants();
            prop_assert_eq!(crate::modules::balances::total_issuance(&p.a.ext()), issuance.0);
            prop_assert_eq!(crate::modules::balances::total_issuance(&p.b.ext()), issuance.1);
        }
        p.drain();
        p.check_invariants();
        // Drained: nothing in flight, so vouchers equal escrow exactly, both ways.
        for (home, away) in [(&p.a, &p.b), (&p.b, &p.a)] {
            let locked = ESCROWED.get_or_default(&home.ext(), &0, &asset_id(&native_denom()));
            let supply = ASSETS.get(&away.ext(), &voucher).map(|a| a.supply).unwrap_or(0);
            prop_assert_eq!(supply, locked);
            prop_assert!(home.pending_packets(0).is_empty());
        }
    }
}

#[test]
fn a_closed_end_answers_packets_with_an_error_so_the_sender_is_refunded() {
    let mut p = Pair::new();
    let h = p.a.height() + 1_000;
    // A packet from A is in flight when A's end closes: its acknowledgement still lands.
    p.send(true, "//Alice", "//Bob", None, 3 * PHA, timeout_in(h))
        .unwrap();
    let in_flight = p.a.pending_packets(0)[0].clone();
    p.a.root(Call::close_channel { channel: 0 }).unwrap();
    p.a.produce(vec![]);
    assert_eq!(
        p.send(true, "//Alice", "//Bob", None, PHA, timeout_in(h)),
        Err(bridge_error(Error::ChannelNotOpen))
    );
    p.deliver(Dir::AtoB, &in_flight).unwrap();
    p.acknowledge(Dir::AtoB, &in_flight).unwrap();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        3 * PHA
    );
    // B's end does not know: what it sends is answered with ChannelClosed and refunded.
    let bob = account("//Bob");
    let before = p.b.free(&bob);
    let ha = p.a.height() + 1_000;
    p.send(false, "//Bob", "//Alice", None, 5 * PHA, timeout_in(ha))
        .unwrap();
    let after_send = p.b.free(&bob);
    assert!(before - after_send >= 5 * PHA);
    let packet = p.b.pending_packets(0)[0].clone();
    p.deliver(Dir::BtoA, &packet).unwrap();
    assert_eq!(
        ACKS.get(&p.a.ext(), &0, &packet.sequence).map(|r| r.ack),
        Some(Ack::Error(
            BoundedBytes::new(b"ChannelClosed".to_vec()).unwrap()
        ))
    );
    p.acknowledge(Dir::BtoA, &packet).unwrap();
    assert_eq!(p.b.free(&bob), after_send + 5 * PHA);
    p.check_invariants();
}

#[test]
fn governance_recovers_an_expired_client_and_its_channel_goes_on() {
    let mut p = Pair::new();
    // B's client of A expires: no update for longer than its trusting period.
    p.b.root(Call::create_client {
        trusted: p.a.trusted_state(),
        trusting_period_ms: 10_000,
    })
    .unwrap();
    let short = 1;
    p.b.tc.mutate(|ext| {
        let mut end = CHANNELS.get(ext, &0).unwrap();
        end.client = short;
        CHANNELS.insert(ext, &0, &end);
    });
    for _ in 0..15 {
        p.b.produce(vec![]);
    }
    assert_eq!(
        client_status(&p.b.ext(), &p.b.client(short)),
        ClientStatus::Expired
    );
    // A new client of the same chain, then recovery of the old id from it.
    p.a.produce(vec![]);
    p.b.root(Call::create_client {
        trusted: p.a.trusted_state(),
        trusting_period_ms: 86_400_000,
    })
    .unwrap();
    assert_eq!(
        p.b.root(Call::recover_client {
            client: 0,
            substitute: 2,
        }),
        Err(bridge_error(Error::ClientActive))
    );
    p.b.root(Call::recover_client {
        client: short,
        substitute: 2,
    })
    .unwrap();
    p.b.produce(vec![]);
    assert_eq!(
        client_status(&p.b.ext(), &p.b.client(short)),
        ClientStatus::Active
    );
    let h = p.b.height() + 1_000;
    p.send(true, "//Alice", "//Bob", None, PHA, timeout_in(h))
        .unwrap();
    // The channel's client is now `short`: relay through it.
    super::harness::update_client(&p.a, &mut p.b, short, RELAYER).unwrap();
    let packet = p.a.pending_packets(0)[0].clone();
    let hb = p.b.client(short).latest_height;
    let proof = p.a.proof(hb, &[packet_key(0, packet.sequence)]);
    p.b.submit(
        RELAYER,
        Call::recv_packet {
            packet,
            proof_height: hb,
            proof,
        },
    )
    .unwrap();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Bob")),
        PHA
    );
}

#[test]
fn a_counterparty_cannot_pass_off_an_asset_under_a_misleading_name_or_pay_an_escrow() {
    let mut p = Pair::new();
    let h = p.b.height() + 1_000;
    // A lying counterparty writes any packet it likes into its own state: here one whose
    // base name looks like a trace, and one paying B's escrow account.
    let forge = |p: &mut Pair, base: &[u8], receiver: AccountId32| {
        let seq = p.a.channel(0).next_send;
        let packet = Packet {
            source_channel: 0,
            dest_channel: 0,
            sequence: seq,
            timeout: timeout_in(h),
            data: PacketData::Transfer(TransferData {
                denom: Denom {
                    path: BoundedVec::default(),
                    base: BoundedBytes::new(base.to_vec()).unwrap(),
                },
                amount: 1_000 * PHA,
                sender: account("//Alice"),
                receiver,
            }),
        };
        p.a.mutate(|ext| {
            PACKETS.insert(ext, &0, &seq, &packet);
            let mut end = CHANNELS.get(ext, &0).unwrap();
            end.next_send = seq + 1;
            CHANNELS.insert(ext, &0, &end);
        });
        p.a.produce(vec![]);
        packet
    };
    for (base, receiver, error) in [
        (&b"channel-1/PHA"[..], account("//Bob"), "BadDenom"),
        (&b"\rPHA"[..], account("//Bob"), "BadDenom"),
        (&b""[..], account("//Bob"), "BadDenom"),
        (&b"PHA"[..], escrow_account(0), "BadReceiver"),
    ] {
        let packet = forge(&mut p, base, receiver);
        p.deliver(Dir::AtoB, &packet).unwrap();
        assert_eq!(
            ACKS.get(&p.b.ext(), &0, &packet.sequence).map(|r| r.ack),
            Some(Ack::Error(
                BoundedBytes::new(error.as_bytes().to_vec()).unwrap()
            )),
            "{base:?}"
        );
    }
    assert!(p.b.ext().get(&ASSETS.prefix()).is_none());
    // An asset named like PHA but not coming home over this channel is a voucher: never
    // B's own PHA.
    let packet = forge(&mut p, b"PHA", account("//Dave"));
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(
        asset_balance(&p.b.ext(), &voucher_of_pha(), &account("//Dave")),
        1_000 * PHA
    );
}

#[test]
fn an_equivocation_at_an_epoch_boundary_freezes_the_client() {
    let mut p = Pair::with_epoch(8);
    // Walk A to just before a boundary; B's client follows.
    while !(p.a.height() + 2).is_multiple_of(8) {
        p.a.produce(vec![]);
    }
    p.update(Dir::AtoB).unwrap();
    // A's committee signs a fake last block of the epoch, announcing a committee of its
    // own choosing, and a relayer races it to B before the real one.
    p.a.produce(vec![]);
    let boundary = p.a.height();
    let epoch = p.a.epoch_of(boundary);
    let real = p.a.header(boundary).clone();
    let mut fake = real.clone();
    fake.digest = vec![
        phala_primitives::consensus::CommitteeChange {
            epoch: epoch + 1,
            keys: vec![
                phala_keys::Ed25519Pair::from_uri("//Mallory")
                    .unwrap()
                    .public(),
            ],
        }
        .digest_item(),
    ];
    let committee = super::harness::committee(&FOUR);
    let fake_cert = super::harness::certify(&p.a.genesis, fake.hash(), boundary, epoch, &committee);
    let proof = p.a.proof(boundary, &[crate::modules::timestamp::NOW.key()]);
    p.b.submit(
        RELAYER,
        Call::update_client {
            client: 0,
            header: BoundedBytes::new(fake.encode()).unwrap(),
            certificate: BoundedBytes::new(fake_cert).unwrap(),
            timestamp_proof: proof.clone(),
        },
    )
    .unwrap();
    assert_eq!(
        p.b.client(0).epoch,
        epoch + 1,
        "the fake hand-over was taken"
    );
    // The real boundary, certified by the same committee, now lies in a past epoch of the
    // client: it proves the equivocation.
    p.b.submit(
        RELAYER,
        Call::update_client {
            client: 0,
            header: BoundedBytes::new(real.encode()).unwrap(),
            certificate: BoundedBytes::new(p.a.certificate(boundary)).unwrap(),
            timestamp_proof: proof,
        },
    )
    .unwrap();
    assert_eq!(
        p.b.client(0).status,
        ClientStatus::Frozen { height: boundary }
    );
}

#[test]
fn headers_dated_in_the_future_and_clients_born_expired_are_refused() {
    let mut p = Pair::new();
    p.a.tc.now += 3_600_000;
    p.a.produce(vec![]);
    assert_eq!(p.update(Dir::AtoB), Err(bridge_error(Error::BadTimestamp)));
    // B's clock runs a minute ahead of A's last block: a client trusting for 5 s is dead
    // on arrival.
    let mut a = Chain::new(1, 10, &FOUR);
    let mut b = Chain::new(2, 10, &FOUR);
    a.produce(vec![]);
    b.tc.now += 60_000;
    b.produce(vec![]);
    assert_eq!(
        b.root(Call::create_client {
            trusted: a.trusted_state(),
            trusting_period_ms: 5_000,
        }),
        Err(bridge_error(Error::ClientExpired))
    );
    // A certificate for another header than the one trusted is refused.
    let mut trusted = a.trusted_state();
    trusted.certificate = BoundedBytes::new(a.certificate(1)).unwrap();
    assert_eq!(
        b.root(Call::create_client {
            trusted,
            trusting_period_ms: 86_400_000,
        }),
        Err(bridge_error(Error::BadHeader))
    );
}

#[test]
fn an_acknowledgement_answers_only_the_packet_it_was_written_for() {
    let mut p = Pair::new();
    let h = p.b.height() + 1_000;
    p.send(true, "//Alice", "//Bob", None, 5 * PHA, timeout_in(h))
        .unwrap();
    let real = p.a.pending_packets(0)[0].clone();
    // What a forged branch of A could have had B take at the same sequence (as before a
    // client recovery): another packet, answered with success.
    let mut forged = real.clone();
    let PacketData::Transfer(ref mut t) = forged.data else {
        unreachable!("a transfer was sent")
    };
    t.receiver = account("//Dave");
    p.a.mutate(|ext| PACKETS.insert(ext, &0, &real.sequence, &forged));
    p.a.produce(vec![]);
    p.deliver(Dir::AtoB, &forged).unwrap();
    p.a.mutate(|ext| PACKETS.insert(ext, &0, &real.sequence, &real));
    p.a.produce(vec![]);
    // B's success answers the forged packet, not the real one: A does not take it for the
    // real packet, whose sender is not left without PHA or voucher.
    let ack = ACKS.get(&p.b.ext(), &0, &real.sequence).unwrap();
    assert_eq!(ack.packet, packet_hash(&forged));
    assert_eq!(
        p.acknowledge(Dir::AtoB, &real),
        Err(bridge_error(Error::ProofMismatch))
    );
}

#[path = "message_tests.rs"]
mod message;
