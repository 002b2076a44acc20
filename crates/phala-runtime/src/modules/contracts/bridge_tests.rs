//! Messages from the bridge as commands, through signed reports: paid by the contract they
//! are for and settled like any command, their answer handed to the bridge; and the
//! messages a command sends handed to the bridge when it settles.

use parity_scale_codec::Encode;
use phala_mq::contracts::{CommandStatus, ContractReport, Effects, OutgoingMessage, ReplyRequest};
use phala_primitives::{H256, PHA};

use super::tests::setup;
use super::*;
use crate::modules::bridge::{self, Ack, AckRecord, Delivery};
use crate::testing::TestChain;
use crate::{RuntimeCall, RuntimeEvent};

/// Changes `chain`'s state outside any block (what the bridge does inside one).
fn mutate<R>(chain: &mut TestChain, f: impl FnOnce(&mut Ext) -> R) -> R {
    let mut ext = Ext::new(&chain.state);
    let result = f(&mut ext);
    for (k, v) in ext.into_changes() {
        match v {
            Some(v) => chain.state.insert(k, v),
            None => chain.state.remove(&k),
        };
    }
    result
}

fn fund(s: &mut super::tests::Setup, contract: &H256) {
    s.net
        .bob(RuntimeCall::Balances(balances::Call::transfer_keep_alive {
            dest: phala_primitives::MultiAddress::Id(contract_account(contract)),
            value: 10 * PHA,
        }));
}

fn account_of(chain: &TestChain, contract: &H256) -> (Balance, Balance) {
    let data = balances::account_data(&chain.ext(), &contract_account(contract));
    (data.free, data.reserved)
}

#[test]
fn a_delivered_message_is_paid_by_its_contract_and_its_answer_acknowledged() {
    let mut s = setup();
    let contract = s.active_contract();
    fund(&mut s, &contract);
    let issuance = balances::total_issuance(&s.net.chain.ext());
    let (free0, reserved0) = account_of(&s.net.chain, &contract);
    let command = mutate(&mut s.net.chain, |ext| {
        let id = deliver(ext, contract, [7; 32], b"in".to_vec(), (1_000, 10)).unwrap();
        // As if it arrived as packet 9 of channel 3.
        bridge::DELIVERIES.insert(
            ext,
            &id,
            &Delivery {
                channel: 3,
                sequence: 9,
                packet: H256([1; 32]),
            },
        );
        id
    });
    let gas_reserve = 1_000 * GAS_PRICE;
    assert_eq!(
        account_of(&s.net.chain, &contract),
        (
            free0 - gas_reserve - 10 * STORAGE_DEPOSIT_PER_BYTE,
            reserved0 + gas_reserve + 10 * STORAGE_DEPOSIT_PER_BYTE
        )
    );
    s.report(
        1,
        ContractReport::Executed {
            id: command,
            contract,
            status: CommandStatus::Success,
            gas_used: 400,
            contract_keys: None,
            output: None,
            effects: Effects {
                storage: vec![(contract, 4)],
                ..Effects::default()
            },
            reply: Some(b"out".to_vec()),
        },
    )
    .unwrap();
    assert_eq!(
        bridge::ACKS.get(&s.net.chain.ext(), &3, &9),
        Some(AckRecord {
            packet: H256([1; 32]),
            ack: Ack::Success(crate::bounded::BoundedBytes::new(b"out".to_vec()).unwrap()),
        })
    );
    assert!(!bridge::DELIVERIES.contains(&s.net.chain.ext(), &command));
    // The contract paid its gas used and the deposit of the 4 bytes it stored, from its
    // own account, and nothing was made or lost.
    let deposit = 4 * STORAGE_DEPOSIT_PER_BYTE;
    assert_eq!(
        account_of(&s.net.chain, &contract),
        (free0 - 400 * GAS_PRICE - deposit, reserved0 + deposit)
    );
    assert_eq!(balances::total_issuance(&s.net.chain.ext()), issuance);
}

#[test]
fn messages_a_command_sends_go_to_the_bridge_when_it_settles() {
    let mut s = setup();
    let contract = s.active_contract();
    fund(&mut s, &contract);
    let id = s.push(contract, [6; 32], 0);
    let message = OutgoingMessage {
        sender: contract,
        // No such channel: the message cannot leave, and the sender hears so.
        channel: 4,
        contract: H256([8; 32]),
        input: b"hi".to_vec(),
        gas_limit: 1_000,
        storage_bytes: 0,
        reply: Some(ReplyRequest {
            query_id: 3,
            gas_limit: 1_000,
            storage_bytes: 0,
        }),
    };
    // A report naming a sender outside the cluster is refused.
    let mut stranger = message.clone();
    stranger.sender = H256([9; 32]);
    let report = |sent: Vec<OutgoingMessage>| ContractReport::Executed {
        id,
        contract,
        status: CommandStatus::Success,
        gas_used: 10,
        contract_keys: None,
        output: None,
        effects: Effects {
            sent,
            ..Effects::default()
        },
        reply: None,
    };
    assert_eq!(
        s.report(1, report(vec![stranger])),
        Err(Error::BadReport.into())
    );
    s.report(1, report(vec![message])).unwrap();
    let events = s.net.chain.events();
    let bridge_events: Vec<&bridge::Event> = events
        .iter()
        .filter_map(|r| match &r.event {
            RuntimeEvent::Bridge(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(
        bridge_events.iter().any(|e| matches!(e,
            bridge::Event::MessageNotSent { channel: 4, sender, error: bridge::Error::UnknownChannel }
                if *sender == contract)),
        "{bridge_events:?}"
    );
    assert!(
        bridge_events.iter().any(|e| matches!(e,
            bridge::Event::ReplyDelivered { sender, query_id: 3, .. } if *sender == contract)),
        "{bridge_events:?}"
    );
}

#[test]
fn the_chain_gives_up_a_bridge_command_left_unreported() {
    let mut s = setup();
    let contract = s.active_contract();
    fund(&mut s, &contract);
    // A reply queued by the bridge: paid by the contract, submitted by nobody here.
    let command = mutate(&mut s.net.chain, |ext| {
        deliver(ext, contract, [7; 32], b"reply".to_vec(), (1_000, 0)).unwrap()
    });
    // Anyone may give it up, but not before its timeout.
    let cancel = RuntimeCall::Contracts(Call::cancel_command { command });
    let nonce = s.net.bob_nonce();
    let xt = s
        .net
        .chain
        .sign(&crate::testing::pair("//Bob"), cancel, nonce);
    s.net.chain.produce(vec![xt]);
    assert_eq!(
        s.net.chain.failure(1),
        Some(Error::CommandNotTimedOut.into())
    );
    // At its deadline the chain gives it up itself.
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &command).is_some());
    for _ in 0..COMMAND_TIMEOUT {
        s.net.chain.produce(vec![]);
    }
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &command).is_none());
    // Its gas was paid from the contract's own reserve, which holds its storage deposit
    // alone again.
    assert_eq!(
        account_of(&s.net.chain, &contract).1,
        10 * STORAGE_DEPOSIT_PER_BYTE
    );
}

#[test]
fn a_report_in_the_layout_before_contract_messages_still_settles() {
    let mut s = setup();
    let contract = s.active_contract();
    let id = s.push(contract, [6; 32], 0);
    let mut old = ContractReport::Executed {
        id,
        contract,
        status: CommandStatus::Success,
        gas_used: 10,
        contract_keys: None,
        output: None,
        effects: Effects::default(),
        reply: None,
    }
    .encode();
    // Without `Effects::sent` and `reply` (both empty: one byte each).
    old.truncate(old.len() - 2);
    s.net
        .send(&mut s.w1, phala_mq::contracts::CONTRACT_REPORT, old)
        .unwrap();
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &id).is_none());
}
