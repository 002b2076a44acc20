//! Contract messages over a channel between two in-memory chains: a request queued for its
//! contract and paid by it, its acknowledgement written when the cluster reports, and the
//! outcome delivered back to the sender; and every way it can go wrong answered, never lost.

use phala_mq::contracts::{CommandStatus, OutgoingMessage, ReplyRequest, reply_origin};

use super::*;
use crate::modules::balances;
use crate::modules::contracts::{
    self, CLUSTERS, ClusterInfo, ContractRecord, ContractStatus, GAS_PRICE, INSTANCES,
    PENDING_COMMANDS, STORAGE_DEPOSIT_PER_BYTE, contract_account,
};

const ASKER: H256 = H256([0xa1; 32]);
const ANSWERER: H256 = H256([0xb2; 32]);
const GAS: u64 = 1_000_000;
const BYTES: u64 = 100;

/// An active contract on `chain`, in a one-worker cluster, its account holding `funds`.
fn add_contract(chain: &mut Chain, id: H256, funds: u128) {
    chain.mutate(|ext| {
        let cluster = contracts::cluster_id(0);
        CLUSTERS.insert(
            ext,
            &cluster,
            &ClusterInfo {
                workers: vec![[9; 32]],
                master_version: 1,
                pubkey: Some([1; 32]),
                ecdh_pubkey: Some([2; 32]),
                created_at: 0,
            },
        );
        INSTANCES.insert(
            ext,
            &id,
            &ContractRecord {
                code_hash: H256([3; 32]),
                cluster,
                deployer: account("//Alice"),
                status: ContractStatus::Active,
                pubkey: Some([4; 32]),
                ecdh_pubkey: Some([5; 32]),
                storage_deposit: 0,
                storage_bytes: 0,
            },
        );
        if funds > 0 {
            balances::transfer(
                ext,
                &account("//Alice"),
                &contract_account(&id),
                funds,
                false,
            )
            .unwrap();
        }
    });
}

fn request(reply: bool) -> OutgoingMessage {
    OutgoingMessage {
        sender: ASKER,
        channel: 0,
        contract: ANSWERER,
        input: b"\x01\x02\x03\x04question".to_vec(),
        gas_limit: GAS,
        storage_bytes: BYTES,
        reply: reply.then_some(ReplyRequest {
            query_id: 7,
            gas_limit: 2 * GAS,
            storage_bytes: 10,
        }),
    }
}

/// `ASKER` on A sends `message`; the packet it became.
fn ask(p: &mut Pair, message: OutgoingMessage) -> Packet {
    p.a.mutate(|ext| send_message(ext, message));
    p.a.produce(vec![]);
    let sent = p.a.pending_packets(0);
    sent.last().cloned().expect("no packet sent")
}

fn deliveries(chain: &Chain) -> Vec<(u64, Delivery)> {
    let ext = chain.ext();
    (0..64)
        .filter_map(|c| DELIVERIES.get(&ext, &c).map(|d| (c, d)))
        .collect()
}

fn ack_of(chain: &Chain, packet: &Packet) -> Option<Ack> {
    ACKS.get(&chain.ext(), &packet.dest_channel, &packet.sequence)
        .map(|r| r.ack)
}

/// What the cluster's report does for the bridge, as contracts' settlement would: the
/// command leaves the queue and its acknowledgement is written.
fn settle(chain: &mut Chain, command: u64, status: CommandStatus, reply: Option<Vec<u8>>) {
    chain.mutate(|ext| {
        let pending = PENDING_COMMANDS.get(ext, &command).unwrap();
        PENDING_COMMANDS.remove(ext, &command);
        let mut queue = contracts::order::CLUSTER_QUEUE.get_or_default(ext, &pending.cluster);
        queue.retain(|c| *c != command);
        contracts::order::CLUSTER_QUEUE.insert(ext, &pending.cluster, &queue);
        on_command_settled(ext, command, &status, reply);
    });
}

fn reserved(chain: &Chain, id: &H256) -> u128 {
    balances::account_data(&chain.ext(), &contract_account(id)).reserved
}

fn bytes(b: &[u8]) -> BoundedBytes<MAX_ACK_BYTES> {
    BoundedBytes::new(b.to_vec()).unwrap()
}

#[test]
fn a_request_runs_there_and_its_answer_comes_back_to_the_asker() {
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    add_contract(&mut p.b, ANSWERER, 10 * PHA);
    let packet = ask(&mut p, request(true));
    let PacketData::Contract(m) = &packet.data else {
        panic!("{packet:?}")
    };
    assert_eq!((m.sender, m.contract), (ASKER, ANSWERER));

    // Received: queued for the answerer, paid by its account, no acknowledgement yet.
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(ack_of(&p.b, &packet), None);
    assert_eq!(p.b.channel(0).next_recv, packet.sequence + 1);
    let [(command, ref delivery)] = deliveries(&p.b)[..] else {
        panic!("{:?}", deliveries(&p.b))
    };
    assert_eq!(delivery.packet, packet_hash(&packet));
    let pending = PENDING_COMMANDS.get(&p.b.ext(), &command).unwrap();
    assert_eq!(pending.origin, contract_account(&ANSWERER));
    assert_eq!(
        reserved(&p.b, &ANSWERER),
        u128::from(GAS) * GAS_PRICE + u128::from(BYTES) * STORAGE_DEPOSIT_PER_BYTE
    );
    // Nothing to carry back while the cluster has not reported.
    assert!(contracts::instance(&p.b.ext(), &ANSWERER).is_some());

    // The cluster reports: its return data is the acknowledgement.
    settle(
        &mut p.b,
        command,
        CommandStatus::Success,
        Some(b"answer".to_vec()),
    );
    p.b.produce(vec![]);
    assert_eq!(ack_of(&p.b, &packet), Some(Ack::Success(bytes(b"answer"))));
    assert!(deliveries(&p.b).is_empty());

    // Back on A: the outcome is queued for the asker as `on_bridge_reply(7, outcome)`,
    // called by the answerer's account behind channel 0 and paid by the asker.
    p.acknowledge(Dir::AtoB, &packet).unwrap();
    let events = p.a.tc.events_of(1);
    let reply_command = events
        .iter()
        .find_map(|e| match e {
            crate::RuntimeEvent::Bridge(Event::ReplyDelivered {
                sender,
                query_id: 7,
                command,
                ..
            }) if *sender == ASKER => Some(*command),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{events:?}"));
    let pending = PENDING_COMMANDS.get(&p.a.ext(), &reply_command).unwrap();
    assert_eq!(pending.origin, contract_account(&ASKER));
    assert_eq!(pending.gas_limit, 2 * GAS);
    let commands: Vec<phala_mq::contracts::ContractCommand> =
        crate::modules::message_queue::OUTBOUND_MESSAGES
            .get_or_default(&p.a.ext())
            .into_iter()
            .filter_map(|m| parity_scale_codec::Decode::decode(&mut &m.payload[..]).ok())
            .collect();
    let mut want = reply_selector().to_vec();
    7u64.encode_to(&mut want);
    Ack::Success(bytes(b"answer")).encode_to(&mut want);
    assert!(
        commands.iter().any(|c| matches!(c,
            phala_mq::contracts::ContractCommand::Deliver { contract, origin, input, .. }
                if *contract == ASKER
                    && *origin == reply_origin(0, &ANSWERER)
                    && *input == want)),
        "{commands:?}"
    );
    assert!(p.a.pending_packets(0).is_empty());
}

#[test]
fn reverts_failures_and_unreported_commands_are_answered() {
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    add_contract(&mut p.b, ANSWERER, 10 * PHA);
    for (status, reply, want) in [
        (
            CommandStatus::Reverted,
            Some(b"\x01no".to_vec()),
            Ack::Reverted(bytes(b"\x01no")),
        ),
        (
            CommandStatus::OutOfGas,
            None,
            Ack::Error(bytes(b"OutOfGas")),
        ),
        (
            CommandStatus::Success,
            None,
            Ack::Error(bytes(b"ReplyTooLarge")),
        ),
    ] {
        let packet = ask(&mut p, request(false));
        p.deliver(Dir::AtoB, &packet).unwrap();
        let [(command, _)] = deliveries(&p.b)[..] else {
            panic!()
        };
        settle(&mut p.b, command, status, reply);
        p.b.produce(vec![]);
        assert_eq!(ack_of(&p.b, &packet), Some(want));
        p.acknowledge(Dir::AtoB, &packet).unwrap();
    }

    // A command the cluster never reports is given up by the chain at its deadline, and
    // answered as unreported; the channel goes on.
    let packet = ask(&mut p, request(true));
    p.deliver(Dir::AtoB, &packet).unwrap();
    let [(command, _)] = deliveries(&p.b)[..] else {
        panic!()
    };
    for _ in 0..contracts::COMMAND_TIMEOUT {
        assert_eq!(ack_of(&p.b, &packet), None);
        p.b.produce(vec![]);
    }
    assert!(PENDING_COMMANDS.get(&p.b.ext(), &command).is_none());
    assert_eq!(
        ack_of(&p.b, &packet),
        Some(Ack::Error(bytes(b"Unreported")))
    );
    p.acknowledge(Dir::AtoB, &packet).unwrap();
    assert!(p.a.pending_packets(0).is_empty());
}

#[test]
fn a_message_nobody_there_can_take_is_answered_at_once() {
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    // No such contract on B.
    let packet = ask(&mut p, request(true));
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(
        ack_of(&p.b, &packet),
        Some(Ack::Error(bytes(b"UnknownContract")))
    );
    p.acknowledge(Dir::AtoB, &packet).unwrap();

    // A contract whose account cannot pay for the call: answered, nothing reserved.
    add_contract(&mut p.b, ANSWERER, 0);
    p.b.produce(vec![]);
    let packet = ask(&mut p, request(true));
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(ack_of(&p.b, &packet), Some(Ack::Error(bytes(b"CannotPay"))));
    assert_eq!(reserved(&p.b, &ANSWERER), 0);
    p.acknowledge(Dir::AtoB, &packet).unwrap();

    // Past its timeout on B's clock: answered `TimedOut`, not run.
    let packet = ask(&mut p, request(false));
    p.b.tc.now += MESSAGE_TIMEOUT_MS + MAX_CLOCK_DRIFT_MS;
    p.b.produce(vec![]);
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(ack_of(&p.b, &packet), Some(Ack::TimedOut));
    assert!(deliveries(&p.b).is_empty());
}

#[test]
fn a_message_that_cannot_leave_is_answered_to_its_sender() {
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    let mut message = request(true);
    message.channel = 5;
    p.a.mutate(|ext| send_message(ext, message));
    p.a.produce(vec![]);
    assert!(p.a.pending_packets(0).is_empty());
    // The asker's reply was queued with the reason.
    let queued: Vec<u64> = (0..8)
        .filter(|c| {
            PENDING_COMMANDS
                .get(&p.a.ext(), c)
                .is_some_and(|pc| pc.contract == ASKER)
        })
        .collect();
    assert_eq!(queued.len(), 1);
}

#[test]
fn a_block_with_no_room_parks_messages_and_replies_until_one_has() {
    use crate::modules::contracts::order::{CLUSTER_QUEUE, MAX_CLUSTER_PENDING};
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    add_contract(&mut p.b, ANSWERER, 10 * PHA);
    let cluster = contracts::cluster_id(0);
    let full = |chain: &mut Chain| {
        chain
            .mutate(|ext| CLUSTER_QUEUE.insert(ext, &cluster, &vec![u64::MAX; MAX_CLUSTER_PENDING]))
    };
    let room = |chain: &mut Chain| chain.mutate(|ext| CLUSTER_QUEUE.remove(ext, &cluster));
    let parked = |chain: &Chain| {
        let (first, next) = INBOX_RANGE.get_or_default(&chain.ext(), &0);
        next - first
    };

    // Received even so: the message waits in B's inbox, its acknowledgement pending.
    let first = ask(&mut p, request(true));
    let second = ask(&mut p, request(true));
    full(&mut p.b);
    p.deliver(Dir::AtoB, &first).unwrap();
    p.deliver(Dir::AtoB, &second).unwrap();
    assert_eq!(p.b.channel(0).next_recv, second.sequence + 1);
    assert_eq!(parked(&p.b), 2);
    assert!(deliveries(&p.b).is_empty());
    assert_eq!(ack_of(&p.b, &first), None);
    // Still no room: still parked, in order.
    p.b.produce(vec![]);
    assert_eq!(parked(&p.b), 2);
    // Room: both queued at the next block's start, before any transaction.
    room(&mut p.b);
    p.b.produce(vec![]);
    assert_eq!(parked(&p.b), 0);
    let queued = deliveries(&p.b);
    assert_eq!(
        queued.iter().map(|(_, d)| d.sequence).collect::<Vec<_>>(),
        vec![first.sequence, second.sequence]
    );

    // The answer comes back to a full A: the acknowledgement is taken, the reply parked.
    let (command, _) = queued[0].clone();
    settle(
        &mut p.b,
        command,
        CommandStatus::Success,
        Some(b"ok".to_vec()),
    );
    p.b.produce(vec![]);
    full(&mut p.a);
    p.acknowledge(Dir::AtoB, &first).unwrap();
    assert_eq!(parked(&p.a), 1);
    assert_eq!(p.a.channel(0).next_ack, first.sequence + 1);
    room(&mut p.a);
    p.a.produce(vec![]);
    assert_eq!(parked(&p.a), 0);
    assert!(
        (0..64).any(|c| PENDING_COMMANDS
            .get(&p.a.ext(), &c)
            .is_some_and(|pc| pc.contract == ASKER)),
        "the reply was not queued"
    );
}

#[test]
fn chains_before_the_version_neither_send_nor_run_contract_messages() {
    let at_bridge_version = |chain: &mut Chain| {
        chain.tc.mutate(|ext| {
            let mut upgrade = system::LAST_RUNTIME_UPGRADE.get(ext).unwrap();
            upgrade.spec_version = parity_scale_codec::Compact(BRIDGE_SINCE_SPEC_VERSION);
            system::LAST_RUNTIME_UPGRADE.put(ext, &upgrade);
        })
    };
    let mut p = Pair::new();
    add_contract(&mut p.a, ASKER, 10 * PHA);
    add_contract(&mut p.b, ANSWERER, 10 * PHA);
    // B answers without running it (signed transactions at the old version would need the
    // old signing payload, so the application is called directly).
    let packet = ask(&mut p, request(false));
    at_bridge_version(&mut p.b);
    let PacketData::Contract(m) = &packet.data else {
        panic!()
    };
    assert_eq!(
        p.b.mutate(|ext| super::super::message::on_recv(ext, &packet, m)),
        Err(Error::NeedsUpgrade)
    );
    assert!(deliveries(&p.b).is_empty());
    // A does not send.
    at_bridge_version(&mut p.a);
    p.a.mutate(|ext| send_message(ext, request(false)));
    p.a.produce(vec![]);
    assert_eq!(p.a.pending_packets(0), vec![packet]);
}

#[test]
fn a_message_that_finds_no_room_for_long_is_answered_busy() {
    use crate::modules::contracts::order::{CLUSTER_QUEUE, MAX_CLUSTER_PENDING};
    let mut p = Pair::new();
    add_contract(&mut p.b, ANSWERER, 10 * PHA);
    let cluster = contracts::cluster_id(0);
    let packet = ask(&mut p, request(false));
    // A cluster whose queue never empties (its workers gone, say).
    p.b.mutate(|ext| CLUSTER_QUEUE.insert(ext, &cluster, &vec![u64::MAX; MAX_CLUSTER_PENDING]));
    p.deliver(Dir::AtoB, &packet).unwrap();
    assert_eq!(ack_of(&p.b, &packet), None);
    for _ in 0..PARK_EXPIRY {
        p.b.produce(vec![]);
    }
    assert_eq!(ack_of(&p.b, &packet), Some(Ack::Error(bytes(b"Busy"))));
    assert!(PARKED_CHANNELS.get_or_default(&p.b.ext()).is_empty());
    p.acknowledge(Dir::AtoB, &packet).unwrap();
}
