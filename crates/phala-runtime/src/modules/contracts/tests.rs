//! Code upload, instantiation, commands and their settlement, driven by signed reports as
//! cluster workers send them.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::keys::KeyPair;
use phala_crypto::{Envelope, Purpose};
use phala_mq::contracts::{
    CONTRACT_COMMAND, CONTRACT_REPORT, CommandStatus, ContractCommand, ContractReport, Effects,
    MAX_EFFECTS, NewContract, SealedInput,
};
use phala_mq::topics::GatekeeperReport;
use phala_primitives::{AccountId32, H256};

use super::*;
use crate::dispatch::DispatchError;
use crate::modules::registry::gatekeeper_tests::{Net, Worker, publish_master};
use crate::modules::{balances, message_queue};
use crate::testing::pair;
use crate::{RuntimeCall, RuntimeEvent};

fn flipper_wasm() -> Vec<u8> {
    let path = phala_vm::contract_fixtures_dir().join("ink4_flipper.contract.json");
    let json = std::fs::read_to_string(path).unwrap();
    let start = json.find("\"wasm\":\"0x").unwrap() + "\"wasm\":\"0x".len();
    let end = start + json[start..].find('"').unwrap();
    hex::decode(&json[start..end]).unwrap()
}

pub(super) struct Setup {
    pub(super) net: Net,
    pub(super) gk: Worker,
    pub(super) w1: Worker,
    pub(super) w2: Worker,
    pub(super) outsider: Worker,
    pub(super) cluster: H256,
    pub(super) cluster_key: KeyPair,
    pub(super) master: KeyPair,
    charlie_nonce: u32,
}

pub(super) fn setup() -> Setup {
    let mut net = Net::new();
    let mut gk = net.worker("//Gk1", 1);
    let w1 = net.worker("//W1", 2);
    let w2 = net.worker("//W2", 3);
    let outsider = net.worker("//W3", 4);
    net.bob(RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: phala_primitives::MultiAddress::Id(charlie()),
        value: 500 * phala_primitives::PHA,
    }));
    let master = publish_master(&mut net, &mut gk);
    net.root(RuntimeCall::Contracts(Call::create_cluster {
        workers: vec![w1.pair.public(), w2.pair.public()],
    }))
    .unwrap();
    let cluster = cluster_id(0);
    let cluster_key = KeyPair::new(master.seed().cluster_key(&cluster));
    let envelopes = [&w1, &w2]
        .iter()
        .map(|w| {
            let env = master
                .seed()
                .seal_deterministic(
                    cluster.as_bytes(),
                    &w.ecdh.public(),
                    Purpose::KeyDelivery,
                    cluster_key.seed().expose(),
                )
                .unwrap();
            (w.pair.public(), env)
        })
        .collect();
    net.report(
        &mut gk,
        GatekeeperReport::ClusterKey(phala_mq::topics::ClusterKeyReport {
            cluster,
            pubkey: cluster_key.public(),
            ecdh_pubkey: cluster_key.ecdh_public(),
            envelopes,
        }),
    )
    .unwrap();
    Setup {
        net,
        gk,
        w1,
        w2,
        outsider,
        cluster,
        cluster_key,
        master,
        charlie_nonce: 0,
    }
}

impl Setup {
    /// A call signed by Charlie; the error it failed with, if any.
    fn charlie(&mut self, call: Call) -> Result<(), DispatchError> {
        let xt = self.net.chain.sign(
            &pair("//Charlie"),
            RuntimeCall::Contracts(call),
            self.charlie_nonce,
        );
        self.charlie_nonce += 1;
        let (_, outcomes) = self.net.chain.produce(vec![xt]);
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        match self.net.chain.failure(1) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(super) fn events(&self) -> Vec<Event> {
        self.net
            .chain
            .events_of(1)
            .into_iter()
            .filter_map(|e| match e {
                RuntimeEvent::Contracts(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn commands(&self) -> Vec<ContractCommand> {
        message_queue::OUTBOUND_MESSAGES
            .get_or_default(&self.net.chain.ext())
            .into_iter()
            .filter(|m| m.destination == CONTRACT_COMMAND)
            .map(|m| ContractCommand::decode(&mut &m.payload[..]).unwrap())
            .collect()
    }

    pub(super) fn report(&mut self, from: u8, report: ContractReport) -> Result<(), DispatchError> {
        let w = match from {
            1 => &mut self.w1,
            2 => &mut self.w2,
            _ => &mut self.outsider,
        };
        self.net.send(w, CONTRACT_REPORT, report.encode())
    }

    fn sealed(&self, to: [u8; 32], contract: Option<H256>) -> Envelope {
        let input = SealedInput {
            origin: pair("//Charlie").public(),
            input: vec![0x9b, 0xae, 0x9d, 0x5e, 0],
            reply_key: None,
        };
        Envelope::seal_with(
            &phala_crypto::EcdhSecret::from_bytes([9; 32]),
            [0; 12],
            &to,
            Purpose::Command,
            contract,
            &input.encode(),
        )
        .unwrap()
    }

    fn reserved(&self) -> Balance {
        balances::account_data(&self.net.chain.ext(), &charlie()).reserved
    }
}

fn charlie() -> AccountId32 {
    AccountId32(pair("//Charlie").public())
}

pub(super) fn executed(
    id: u64,
    contract: H256,
    status: CommandStatus,
    keys: bool,
) -> ContractReport {
    ContractReport::Executed {
        id,
        contract,
        status,
        gas_used: 1_000_000,
        contract_keys: keys.then_some(([5; 32], [6; 32])),
        output: None,
        effects: Effects {
            storage: vec![(contract, 10)],
            ..Effects::default()
        },
        reply: None,
    }
}

const ED: Balance = balances::EXISTENTIAL_DEPOSIT;

#[test]
fn code_is_validated_at_upload_and_charged_a_deposit() {
    let mut s = setup();
    assert_eq!(
        s.charlie(Call::upload_code {
            code: b"not wasm".to_vec()
        }),
        Err(Error::CodeInvalid.into())
    );
    // A module with a float instruction.
    // env.memory, `deploy` doing `f32.const 1; f32.const 1; f32.add; drop`, and `call`.
    let floats = [
        &b"\0asm\x01\0\0\0"[..],
        &[
            1, 4, 1, 96, 0, 0, 2, 15, 1, 3, 101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2, 0,
            1, 3, 3, 2, 0, 0, 7, 17, 2, 6, 100, 101, 112, 108, 111, 121, 0, 0, 4, 99, 97, 108, 108,
            0, 1, 10, 19, 2, 14, 0, 67, 0, 0, 128, 63, 67, 0, 0, 128, 63, 146, 26, 11, 2, 0, 11,
        ][..],
    ]
    .concat();
    let error = phala_vm::validate(&floats).err();
    assert!(
        matches!(error, Some(phala_vm::CodeError::FloatingPoint(_))),
        "{error:?}"
    );
    assert_eq!(
        s.charlie(Call::upload_code { code: floats }),
        Err(Error::CodeUsesFloats.into())
    );

    // Over 2 MiB: refused before anything else is looked at.
    let mut oversized = flipper_wasm();
    oversized.resize(phala_vm::MAX_CODE_SIZE + 1, 0);
    assert_eq!(
        s.charlie(Call::upload_code { code: oversized }),
        Err(Error::CodeTooLarge.into())
    );

    let code = flipper_wasm();
    let hash = H256(phala_primitives::hashing::blake2_256(&code));
    s.charlie(Call::upload_code { code: code.clone() }).unwrap();
    assert_eq!(
        s.events(),
        vec![Event::CodeUploaded {
            code_hash: hash,
            owner: charlie(),
            size: code.len() as u32
        }]
    );
    assert_eq!(
        s.commands(),
        vec![ContractCommand::CodeUploaded { code_hash: hash }]
    );
    assert_eq!(s.reserved(), CODE_DEPOSIT_PER_BYTE * code.len() as Balance);
    assert_eq!(CODES.get(&s.net.chain.ext(), &hash), Some(code.clone()));
    // Again: nothing changes, nothing more is reserved.
    s.charlie(Call::upload_code { code }).unwrap();
    assert!(s.events().is_empty());
    assert_eq!(
        s.reserved(),
        CODE_DEPOSIT_PER_BYTE * flipper_wasm().len() as Balance
    );
}

#[test]
fn instantiation_and_commands_are_relayed_sealed_and_settled_once() {
    let mut s = setup();
    let code = flipper_wasm();
    let code_hash = H256(phala_primitives::hashing::blake2_256(&code));
    s.charlie(Call::upload_code { code }).unwrap();
    let code_deposit = s.reserved();
    let cluster = s.cluster;
    let instantiate = |data: Envelope, gas_limit: u64| Call::instantiate {
        code_hash,
        data,
        salt: b"salt".to_vec(),
        cluster,
        gas_limit,
        deposit: 1_000 * STORAGE_DEPOSIT_PER_BYTE,
    };
    // Sealed to the wrong key, or over the gas cap: refused before anything is reserved.
    let wrong = s.sealed(s.w1.ecdh.public(), None);
    assert_eq!(
        s.charlie(instantiate(wrong, 1_000_000)),
        Err(Error::WrongRecipient.into())
    );
    let data = s.sealed(s.cluster_key.ecdh_public(), None);
    assert_eq!(
        s.charlie(instantiate(data.clone(), MAX_GAS + 1)),
        Err(Error::GasLimit.into())
    );
    assert_eq!(s.reserved(), code_deposit);

    s.charlie(instantiate(data.clone(), 5_000_000)).unwrap();
    let contract = contract_id(&charlie(), &code_hash, &cluster, b"salt");
    let [
        ContractCommand::Instantiate {
            id,
            data: relayed,
            contract: c,
            ..
        },
    ] = &s.commands()[..]
    else {
        panic!("{:?}", s.commands())
    };
    assert_eq!((*c, relayed), (contract, &data));
    let id = *id;
    let reserved = 5_000_000 * GAS_PRICE + 1_000 * STORAGE_DEPOSIT_PER_BYTE;
    assert_eq!(s.reserved(), code_deposit + reserved);
    assert_eq!(
        instance(&s.net.chain.ext(), &contract).map(|r| r.status),
        Some(ContractStatus::Instantiating)
    );
    assert_eq!(
        s.charlie(instantiate(data, 5_000_000)),
        Err(Error::ContractExists.into())
    );
    // Commands wait for the instantiation.
    let early = s.sealed(s.cluster_key.ecdh_public(), Some(contract));
    assert_eq!(
        s.charlie(Call::push_command {
            contract,
            payload: early,
            gas_limit: 1,
            deposit: 0
        }),
        Err(Error::ContractNotReady.into())
    );

    // Only a member reports, once.
    let free = balances::free_balance(&s.net.chain.ext(), &charlie());
    assert_eq!(
        s.report(3, executed(id, contract, CommandStatus::Success, true)),
        Err(Error::NotInCluster.into())
    );
    assert_eq!(
        s.report(1, executed(id, contract, CommandStatus::Success, false)),
        Err(Error::BadReport.into())
    );
    s.report(1, executed(id, contract, CommandStatus::Success, true))
        .unwrap();
    assert_eq!(
        s.report(2, executed(id, contract, CommandStatus::Success, true)),
        Err(Error::UnknownCommand.into())
    );
    let record = instance(&s.net.chain.ext(), &contract).unwrap();
    assert_eq!(record.status, ContractStatus::Active);
    assert_eq!(record.ecdh_pubkey, Some([6; 32]));
    assert_eq!(record.storage_deposit, 10 * STORAGE_DEPOSIT_PER_BYTE);
    // Gas used paid to the treasury; the rest refunded; the contract's account opened with
    // the existential deposit and holding the storage deposit in reserve.
    assert_eq!(
        balances::free_balance(&s.net.chain.ext(), &charlie()),
        free + reserved - 1_000_000 * GAS_PRICE - 10 * STORAGE_DEPOSIT_PER_BYTE - ED
    );
    assert_eq!(s.reserved(), code_deposit);
    let account = balances::account_data(&s.net.chain.ext(), &contract_account(&contract));
    assert_eq!(
        (account.free, account.reserved),
        (ED, 10 * STORAGE_DEPOSIT_PER_BYTE)
    );

    // A command: sealed to the contract key, for this contract.
    let for_other = s.sealed([6; 32], Some(H256([1; 32])));
    assert_eq!(
        s.charlie(Call::push_command {
            contract,
            payload: for_other,
            gas_limit: 1_000,
            deposit: 0
        }),
        Err(Error::WrongRecipient.into())
    );
    let payload = s.sealed([6; 32], Some(contract));
    s.charlie(Call::push_command {
        contract,
        payload: payload.clone(),
        gas_limit: 2_000_000,
        deposit: 0,
    })
    .unwrap();
    let [
        ContractCommand::Call {
            id,
            origin,
            payload: relayed,
            ..
        },
    ] = &s.commands()[..]
    else {
        panic!()
    };
    assert_eq!((*origin, relayed), (charlie().0, &payload));
    let id = *id;
    // Out of gas: all of it is paid, nothing is stored.
    s.report(
        2,
        ContractReport::Executed {
            id,
            contract,
            status: CommandStatus::OutOfGas,
            gas_used: 2_000_000,
            contract_keys: None,
            output: None,
            // Whatever a failed command's report says it did is ignored.
            effects: Effects {
                storage: vec![(contract, 1_000)],
                ..Effects::default()
            },
            reply: None,
        },
    )
    .unwrap();
    let events = s.net.chain.events_of(1);
    assert!(events.iter().any(|e| matches!(
        e,
        RuntimeEvent::Contracts(Event::CommandExecuted { status: CommandStatus::OutOfGas, fee, .. })
            if *fee == 2_000_000 * GAS_PRICE
    )));
    assert_eq!(s.reserved(), code_deposit);
    assert_eq!(
        instance(&s.net.chain.ext(), &contract).map(|r| r.storage_deposit),
        Some(10 * STORAGE_DEPOSIT_PER_BYTE)
    );
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &id).is_none());
}

#[test]
fn a_failed_instantiation_frees_the_id() {
    let mut s = setup();
    let code = flipper_wasm();
    let code_hash = H256(phala_primitives::hashing::blake2_256(&code));
    s.charlie(Call::upload_code { code }).unwrap();
    let data = s.sealed(s.cluster_key.ecdh_public(), None);
    let call = Call::instantiate {
        code_hash,
        data,
        salt: vec![],
        cluster: s.cluster,
        gas_limit: 1_000_000,
        deposit: ED,
    };
    s.charlie(call.clone()).unwrap();
    let contract = contract_id(&charlie(), &code_hash, &s.cluster, &[]);
    s.report(1, executed(0, contract, CommandStatus::Trapped, false))
        .unwrap();
    assert!(instance(&s.net.chain.ext(), &contract).is_none());
    s.charlie(call).unwrap();
    assert!(instance(&s.net.chain.ext(), &contract).is_some());
}

#[test]
fn members_take_turns_reporting_and_an_unreported_command_can_be_cancelled() {
    let mut s = setup();
    let code = flipper_wasm();
    let code_hash = H256(phala_primitives::hashing::blake2_256(&code));
    s.charlie(Call::upload_code { code }).unwrap();
    let reserved_before = s.reserved();
    let data = s.sealed(s.cluster_key.ecdh_public(), None);
    s.charlie(Call::instantiate {
        code_hash,
        data,
        salt: vec![],
        cluster: s.cluster,
        gas_limit: 1_000_000,
        deposit: ED,
    })
    .unwrap();
    let [
        ContractCommand::Instantiate {
            id: 0, reporter, ..
        },
    ] = &s.commands()[..]
    else {
        panic!()
    };
    assert_eq!(*reporter, s.w1.pair.public());
    let contract = contract_id(&charlie(), &code_hash, &s.cluster, &[]);

    // The cluster never reports: too early, or not the submitter's, it stays.
    assert_eq!(
        s.charlie(Call::cancel_command { command: 0 }),
        Err(Error::CommandNotTimedOut.into())
    );
    for _ in 0..COMMAND_TIMEOUT {
        s.net.chain.produce(vec![]);
    }
    let nonce = s.net.bob_nonce();
    let xt = s.net.chain.sign(
        &pair("//Bob"),
        RuntimeCall::Contracts(Call::cancel_command { command: 0 }),
        nonce,
    );
    s.net.chain.produce(vec![xt]);
    assert_eq!(s.net.chain.failure(1), Some(Error::NotYourCommand.into()));
    let free = s.free(&charlie());
    s.charlie(Call::cancel_command { command: 0 }).unwrap();
    // The cluster may have run the constructor: the gas is paid; the contract never became
    // active on chain, so the deposit comes back.
    assert_eq!(
        s.events(),
        vec![Event::CommandCancelled {
            contract,
            command: 0,
            fee: 1_000_000 * GAS_PRICE,
            deposit_forfeited: 0,
            deposit_refunded: ED,
        }]
    );
    assert_eq!(s.reserved(), reserved_before);
    assert_eq!(s.free(&charlie()), free - s.tx_fee() + ED);
    assert!(instance(&s.net.chain.ext(), &contract).is_none());
    // A late report finds nothing to settle.
    assert_eq!(
        s.report(1, executed(0, contract, CommandStatus::Success, true)),
        Err(Error::UnknownCommand.into())
    );

    // The next command is the second member's to report.
    let data = s.sealed(s.cluster_key.ecdh_public(), None);
    s.charlie(Call::instantiate {
        code_hash,
        data,
        salt: vec![],
        cluster: s.cluster,
        gas_limit: 1_000_000,
        deposit: ED,
    })
    .unwrap();
    let [
        ContractCommand::Instantiate {
            id: 1, reporter, ..
        },
    ] = &s.commands()[..]
    else {
        panic!()
    };
    assert_eq!(*reporter, s.w2.pair.public());
}

#[test]
fn an_instantiation_must_cover_the_contract_accounts_existential_deposit() {
    let mut s = setup();
    let code = flipper_wasm();
    let code_hash = H256(phala_primitives::hashing::blake2_256(&code));
    s.charlie(Call::upload_code { code }).unwrap();
    let data = s.sealed(s.cluster_key.ecdh_public(), None);
    assert_eq!(
        s.charlie(Call::instantiate {
            code_hash,
            data,
            salt: vec![],
            cluster: s.cluster,
            gas_limit: 1_000_000,
            deposit: ED - 1,
        }),
        Err(Error::DepositTooLow.into())
    );
}

impl Setup {
    /// Instantiates the flipper as Charlie and reports it done with 10 bytes of storage.
    pub(super) fn active_contract(&mut self) -> H256 {
        let code = flipper_wasm();
        let code_hash = H256(phala_primitives::hashing::blake2_256(&code));
        self.charlie(Call::upload_code { code }).unwrap();
        let data = self.sealed(self.cluster_key.ecdh_public(), None);
        self.charlie(Call::instantiate {
            code_hash,
            data,
            salt: vec![],
            cluster: self.cluster,
            gas_limit: 1_000_000,
            deposit: ED + 1_000 * STORAGE_DEPOSIT_PER_BYTE,
        })
        .unwrap();
        let contract = contract_id(&charlie(), &code_hash, &self.cluster, &[]);
        self.report(1, executed(0, contract, CommandStatus::Success, true))
            .unwrap();
        contract
    }

    /// Pushes a command to `contract` (sealed to `ecdh`) as Charlie; its id.
    pub(super) fn push(&mut self, contract: H256, ecdh: [u8; 32], deposit: Balance) -> u64 {
        let payload = self.sealed(ecdh, Some(contract));
        self.charlie(Call::push_command {
            contract,
            payload,
            gas_limit: 1_000,
            deposit,
        })
        .unwrap();
        match self.commands().last() {
            Some(ContractCommand::Call { id, .. }) => *id,
            other => panic!("{other:?}"),
        }
    }

    fn done(&mut self, id: u64, contract: H256, effects: Effects) -> Result<(), DispatchError> {
        self.report(
            1,
            ContractReport::Executed {
                id,
                contract,
                status: CommandStatus::Success,
                gas_used: 1_000,
                contract_keys: None,
                output: None,
                effects,
                reply: None,
            },
        )
    }

    /// A command on `contract` (deposit limit `deposit`) reported as changing its storage by
    /// `bytes`.
    fn resize(&mut self, contract: H256, bytes: i64, deposit: Balance) {
        let id = self.push(contract, [6; 32], deposit);
        let effects = Effects {
            storage: vec![(contract, bytes)],
            ..Effects::default()
        };
        self.done(id, contract, effects).unwrap();
    }

    fn account(&self, contract: &H256) -> (Balance, Balance) {
        let data = balances::account_data(&self.net.chain.ext(), &contract_account(contract));
        (data.free, data.reserved)
    }

    fn free(&self, who: &AccountId32) -> Balance {
        balances::free_balance(&self.net.chain.ext(), who)
    }
}

#[test]
fn storage_deposits_follow_storage_and_contracts_made_by_contracts_are_callable() {
    let mut s = setup();
    let parent = s.active_contract();
    let code_hash = instance(&s.net.chain.ext(), &parent).unwrap().code_hash;
    let child = H256([0xc1; 32]);
    const PB: Balance = STORAGE_DEPOSIT_PER_BYTE;

    // The parent grows by 50 bytes and instantiates a child of 20 bytes.
    let id = s.push(parent, [6; 32], 1_000 * PB);
    let before = s.free(&charlie());
    s.done(
        id,
        parent,
        Effects {
            storage: vec![(parent, 50), (child, 20)],
            instantiated: vec![NewContract {
                contract: child,
                code_hash,
                deployer: parent,
                pubkey: [7; 32],
                ecdh_pubkey: [8; 32],
            }],
            ..Effects::default()
        },
    )
    .unwrap();
    // (`before` is after the push reserved the gas and the deposit limit; the gas was all used.)
    assert_eq!(s.free(&charlie()), before + 1_000 * PB - ED - 70 * PB);
    assert_eq!(s.account(&parent), (ED, 60 * PB));
    assert_eq!(s.account(&child), (ED, 20 * PB));
    let record = instance(&s.net.chain.ext(), &child).unwrap();
    assert_eq!(
        (record.deployer, record.status, record.ecdh_pubkey),
        (AccountId32(parent.0), ContractStatus::Active, Some([8; 32]))
    );
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_deposit, storage_refunded: 0, .. }
            if *storage_deposit == ED + 70 * PB
    )));

    // A deposit limit is a limit: growth beyond it is charged only up to it.
    s.resize(parent, 500, 5 * PB);
    assert_eq!(s.account(&parent), (ED, 65 * PB));

    // Freed storage is paid back to the caller: the freed bytes' share of what the contract
    // holds (65 PB for 560 bytes here, since 495 bytes were charged nothing), never a
    // price that could draw out more than those bytes brought in.
    assert_eq!(
        instance(&s.net.chain.ext(), &parent).map(|r| r.storage_bytes),
        Some(560)
    );
    s.resize(parent, -30, 0);
    let share = 65 * PB * 30 / 560;
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_refunded, storage_deposit: 0, .. } if *storage_refunded == share
    )));
    assert_eq!(s.account(&parent), (ED, 65 * PB - share));
    s.resize(parent, -1_000_000, 0);
    assert_eq!(s.account(&parent), (ED, 0));
    assert_eq!(
        instance(&s.net.chain.ext(), &parent).map(|r| r.storage_deposit),
        Some(0)
    );

    // `set_code_hash`: the chain's record follows (to an uploaded code only).
    let id = s.push(parent, [6; 32], 0);
    let unknown = Effects {
        code_changed: vec![(parent, H256([0xee; 32]))],
        ..Effects::default()
    };
    assert_eq!(s.done(id, parent, unknown), Err(Error::BadReport.into()));
    s.done(
        id,
        parent,
        Effects {
            code_changed: vec![(parent, code_hash)],
            ..Effects::default()
        },
    )
    .unwrap();
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::ContractCodeChanged { contract, code_hash: c, .. } if *contract == parent && *c == code_hash
    )));

    // The child takes commands sealed to its own key.
    let early = s.push(child, [8; 32], 0);

    // The parent terminates the child in favour of Dave: Dave gets its whole account, and
    // the child is gone; the command already queued for it is still settled.
    let dave = AccountId32(pair("//Dave").public());
    let dave_before = s.free(&dave);
    let id = s.push(parent, [6; 32], 0);
    s.done(early, child, Effects::default()).unwrap();
    s.done(
        id,
        parent,
        Effects {
            terminated: vec![(child, dave.0)],
            ..Effects::default()
        },
    )
    .unwrap();
    assert_eq!(s.free(&dave), dave_before + ED + 20 * PB);
    assert_eq!(s.account(&child), (0, 0));
    assert!(instance(&s.net.chain.ext(), &child).is_none());
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::ContractTerminated { contract, beneficiary, released, .. }
            if *contract == child && *beneficiary == dave && *released == ED + 20 * PB
    )));
    let payload = s.sealed([8; 32], Some(child));
    assert_eq!(
        s.charlie(Call::push_command {
            contract: child,
            payload,
            gas_limit: 1_000,
            deposit: 0
        }),
        Err(Error::ContractNotFound.into())
    );
}

#[test]
fn a_command_whose_contract_terminated_meanwhile_is_still_settled() {
    let mut s = setup();
    let contract = s.active_contract();
    let terminate = s.push(contract, [6; 32], 0);
    let after = s.push(contract, [6; 32], 0);
    let charlie_before = s.free(&charlie());
    s.done(
        terminate,
        contract,
        Effects {
            terminated: vec![(contract, charlie().0)],
            ..Effects::default()
        },
    )
    .unwrap();
    assert!(instance(&s.net.chain.ext(), &contract).is_none());
    s.report(
        2,
        ContractReport::Executed {
            id: after,
            contract,
            status: CommandStatus::NotFound,
            gas_used: 0,
            contract_keys: None,
            output: None,
            effects: Effects::default(),
            reply: None,
        },
    )
    .unwrap();
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &after).is_none());
    // Charlie got the contract's account back, and the gas the second command reserved
    // (it used none; the first paid exactly what it had reserved).
    assert_eq!(
        s.free(&charlie()),
        charlie_before + 1_000 * GAS_PRICE + ED + 10 * STORAGE_DEPOSIT_PER_BYTE
    );
}

#[test]
fn effects_naming_unknown_or_duplicate_contracts_or_too_many_are_refused() {
    let mut s = setup();
    let contract = s.active_contract();
    let id = s.push(contract, [6; 32], 1_000 * STORAGE_DEPOSIT_PER_BYTE);
    let stranger = H256([0x5e; 32]);
    let bad = [
        Effects {
            storage: vec![(stranger, 1)],
            ..Effects::default()
        },
        Effects {
            storage: vec![(contract, 1), (contract, 1)],
            ..Effects::default()
        },
        Effects {
            storage: vec![(contract, 0)],
            ..Effects::default()
        },
        Effects {
            terminated: vec![(stranger, [0; 32])],
            ..Effects::default()
        },
        Effects {
            // A contract that exists already cannot be new.
            instantiated: vec![NewContract {
                contract,
                code_hash: H256::default(),
                deployer: contract,
                pubkey: [0; 32],
                ecdh_pubkey: [0; 32],
            }],
            ..Effects::default()
        },
        Effects {
            // Nor one made from a code never uploaded.
            instantiated: vec![NewContract {
                contract: stranger,
                code_hash: H256([0xee; 32]),
                deployer: contract,
                pubkey: [0; 32],
                ecdh_pubkey: [0; 32],
            }],
            ..Effects::default()
        },
        Effects {
            storage: (0..=MAX_EFFECTS as u8)
                .map(|i| (H256([i; 32]), 1))
                .collect(),
            ..Effects::default()
        },
    ];
    for effects in bad {
        assert_eq!(
            s.done(id, contract, effects.clone()),
            Err(Error::BadReport.into()),
            "{effects:?}"
        );
    }
    s.done(id, contract, Effects::default()).unwrap();
}

#[test]
fn an_unreported_command_goes_to_the_next_member_once_per_member() {
    let mut s = setup();
    let contract = s.active_contract();
    let id = s.push(contract, [6; 32], 0);
    let first = match s.commands().last() {
        Some(ContractCommand::Call { reporter, .. }) => *reporter,
        other => panic!("{other:?}"),
    };
    let members = [s.w1.pair.public(), s.w2.pair.public()];
    let other = if first == members[0] {
        members[1]
    } else {
        members[0]
    };
    // Nothing before the deadline; then the next member is asked, in that block's messages.
    let mut reassigned = None;
    for _ in 0..REPORT_TIMEOUT {
        s.net.chain.produce(vec![]);
        assert!(reassigned.is_none(), "reassigned before the deadline");
        reassigned = s
            .commands()
            .into_iter()
            .find(|c| matches!(c, ContractCommand::Reassign { .. }));
    }
    assert_eq!(
        reassigned,
        Some(ContractCommand::Reassign {
            id,
            cluster: s.cluster,
            reporter: other
        })
    );
    assert_eq!(
        PENDING_COMMANDS
            .get(&s.net.chain.ext(), &id)
            .map(|p| p.reassigned),
        Some(1)
    );
    // Every member has had its turn: no more reassignments, only cancellation.
    for _ in 0..2 * REPORT_TIMEOUT {
        s.net.chain.produce(vec![]);
        assert!(
            !s.commands()
                .iter()
                .any(|c| matches!(c, ContractCommand::Reassign { .. })),
            "a second reassignment with two members"
        );
    }
    // The member it went to settles it.
    let from = if other == s.w1.pair.public() { 1 } else { 2 };
    s.report(
        from,
        ContractReport::Executed {
            id,
            contract,
            status: CommandStatus::Success,
            gas_used: 10,
            contract_keys: None,
            output: None,
            effects: Effects::default(),
            reply: None,
        },
    )
    .unwrap();
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &id).is_none());
}

impl Setup {
    /// The fee the extrinsic at index 1 of the last block paid.
    fn tx_fee(&self) -> Balance {
        self.net
            .chain
            .events_of(1)
            .into_iter()
            .find_map(|e| match e {
                RuntimeEvent::TransactionPayment(
                    crate::modules::transaction_payment::Event::TransactionFeePaid {
                        actual_fee,
                        ..
                    },
                ) => Some(actual_fee),
                _ => None,
            })
            .unwrap_or(0)
    }
}

/// The fee an extrinsic pays.
fn fee_of(xt: &phala_primitives::OpaqueExtrinsic, call: &RuntimeCall) -> Balance {
    crate::modules::transaction_payment::compute_fee(xt.as_bytes().len(), &call.info(), 0)
}

/// The attack this settlement is built against: a caller that holds exactly what its command
/// needs, empties its free balance once the command is pushed, and hopes the report fails
/// (and the command stays cancellable for a full refund) while the cluster has run it.
#[test]
fn a_caller_that_empties_its_account_still_pays_for_its_command() {
    const PB: Balance = STORAGE_DEPOSIT_PER_BYTE;
    let mut s = setup();
    let parent = s.active_contract();
    let code_hash = instance(&s.net.chain.ext(), &parent).unwrap().code_hash;
    let child = H256([0xc2; 32]);
    let eve_pair = pair("//Eve");
    let eve = AccountId32(eve_pair.public());
    let bob = AccountId32(pair("//Bob").public());

    // A command that uses all its gas, opens a contract account and grows storage by
    // exactly what is left of its deposit limit.
    let gas_limit = 3_000_000u64;
    let deposit = ED + 100 * PB;
    let payload = s.sealed([6; 32], Some(parent));
    let push_call = RuntimeCall::Contracts(Call::push_command {
        contract: parent,
        payload,
        gas_limit,
        deposit,
    });
    let drain_call = RuntimeCall::Balances(balances::Call::transfer_all {
        dest: phala_primitives::MultiAddress::Id(bob),
        keep_alive: false,
    });
    let push = s.net.chain.sign(&eve_pair, push_call.clone(), 0);
    let drain = s.net.chain.sign(&eve_pair, drain_call.clone(), 1);
    let reserve = Balance::from(gas_limit) * GAS_PRICE + deposit;
    // Exactly the two transactions' fees, the reserve and the existential deposit, which
    // stays in the free balance while anything is reserved.
    let funds = fee_of(&push, &push_call) + fee_of(&drain, &drain_call) + reserve + ED;
    s.net
        .bob(RuntimeCall::Balances(balances::Call::transfer_keep_alive {
            dest: phala_primitives::MultiAddress::Id(eve),
            value: funds,
        }));

    let (_, outcomes) = s.net.chain.produce(vec![push]);
    assert_eq!(outcomes, vec![Ok(true)]);
    assert_eq!(s.net.chain.failure(1), None);
    let id = match s.commands().last() {
        Some(ContractCommand::Call { id, .. }) => *id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        balances::account_data(&s.net.chain.ext(), &eve).reserved,
        reserve
    );
    // The drain takes all it may: nothing of what is reserved.
    let (_, outcomes) = s.net.chain.produce(vec![drain]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let drained = balances::account_data(&s.net.chain.ext(), &eve);
    assert_eq!(drained.reserved, reserve);
    assert!(drained.free <= ED, "{drained:?}");

    let parent_before = s.account(&parent);
    let report = ContractReport::Executed {
        id,
        contract: parent,
        status: CommandStatus::Success,
        gas_used: gas_limit,
        contract_keys: None,
        output: None,
        effects: Effects {
            storage: vec![(parent, 60), (child, 40)],
            instantiated: vec![NewContract {
                contract: child,
                code_hash,
                deployer: parent,
                pubkey: [7; 32],
                ecdh_pubkey: [8; 32],
            }],
            ..Effects::default()
        },
        reply: None,
    };
    assert_eq!(s.report(1, report), Ok(()));
    let fee = Balance::from(gas_limit) * GAS_PRICE;
    assert!(
        s.events().contains(&Event::CommandExecuted {
            contract: parent,
            command: id,
            status: CommandStatus::Success,
            gas_used: gas_limit,
            fee,
            storage_deposit: deposit,
            storage_refunded: 0,
            output: None,
        }),
        "{:?}",
        s.events()
    );
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &id).is_none());
    // Eve paid everything she reserved and kept what she could not move.
    let after = balances::account_data(&s.net.chain.ext(), &eve);
    assert_eq!((after.free, after.reserved), (drained.free, 0));
    // The chain's deposits are what the cluster's storage costs.
    assert_eq!(
        s.account(&parent),
        (parent_before.0, parent_before.1 + 60 * PB)
    );
    assert_eq!(s.account(&child), (ED, 40 * PB));
    let ext = s.net.chain.ext();
    assert_eq!(
        instance(&ext, &parent).map(|r| r.storage_deposit),
        Some((10 + 60) * PB)
    );
    assert_eq!(
        instance(&ext, &child).map(|r| r.storage_deposit),
        Some(40 * PB)
    );
    drop(ext);
    // Nothing is left to cancel.
    for _ in 0..COMMAND_TIMEOUT {
        s.net.chain.produce(vec![]);
    }
    let cancel = s.net.chain.sign(
        &eve_pair,
        RuntimeCall::Contracts(Call::cancel_command { command: id }),
        2,
    );
    let (_, outcomes) = s.net.chain.produce(vec![cancel]);
    // She cannot even pay to try.
    assert!(outcomes[0].is_err() || s.net.chain.failure(1) == Some(Error::UnknownCommand.into()));
}

#[test]
fn a_cancelled_command_pays_its_gas_and_forfeits_its_deposit() {
    const PB: Balance = STORAGE_DEPOSIT_PER_BYTE;
    let mut s = setup();
    let contract = s.active_contract();
    let code_deposit = s.reserved();
    let before = s.account(&contract);
    let id = s.push(contract, [6; 32], 50 * PB);
    assert_eq!(s.reserved(), code_deposit + 1_000 * GAS_PRICE + 50 * PB);
    for _ in 0..COMMAND_TIMEOUT {
        s.net.chain.produce(vec![]);
    }
    let free = s.free(&charlie());
    let treasury = s.free(&crate::modules::TREASURY_ACCOUNT);
    s.charlie(Call::cancel_command { command: id }).unwrap();
    assert_eq!(
        s.events(),
        vec![Event::CommandCancelled {
            contract,
            command: id,
            fee: 1_000 * GAS_PRICE,
            deposit_forfeited: 50 * PB,
            deposit_refunded: 0,
        }]
    );
    // Nothing comes back, and nothing goes where the submitter could recover it: the gas
    // and the deposit limit go to the treasury; the contract's reserve is as it was.
    assert_eq!(s.reserved(), code_deposit);
    assert_eq!(s.free(&charlie()), free - s.tx_fee());
    assert_eq!(
        s.free(&crate::modules::TREASURY_ACCOUNT),
        treasury + s.tx_fee() + 1_000 * GAS_PRICE + 50 * PB
    );
    assert_eq!(s.account(&contract), before);
    // A late report finds nothing to settle.
    assert_eq!(
        s.done(id, contract, Effects::default()),
        Err(Error::UnknownCommand.into())
    );
}

/// The attack: command A grows a contract's storage, command B (later) terminates it, and
/// B's report is made to land first. Settled as they came, A's report would name a contract
/// that is gone and be refused forever; cancelling A would then leave storage nobody paid
/// for. Reports settle in command order instead: B's waits for A's.
#[test]
fn reports_settle_in_command_order_whatever_order_they_arrive_in() {
    const PB: Balance = STORAGE_DEPOSIT_PER_BYTE;
    let mut s = setup();
    let contract = s.active_contract();
    let a = s.push(contract, [6; 32], 30 * PB);
    let b = s.push(contract, [6; 32], 0);
    // B's report first: kept, nothing settles.
    s.done(
        b,
        contract,
        Effects {
            terminated: vec![(contract, charlie().0)],
            ..Effects::default()
        },
    )
    .unwrap();
    assert!(s.events().contains(&Event::ReportKept {
        cluster: s.cluster,
        command: b,
    }));
    assert!(instance(&s.net.chain.ext(), &contract).is_some());
    assert!(PENDING_COMMANDS.contains(&s.net.chain.ext(), &b));
    // A copy of it is refused; it cannot be cancelled (its report is in); nor is it
    // reassigned while it waits.
    assert_eq!(
        s.done(b, contract, Effects::default()),
        Err(Error::ReportAlreadyIn.into())
    );
    // A's report: A settles (its 30 bytes paid into the contract's reserve), then B
    // (terminating the contract, its whole account to the beneficiary).
    s.done(
        a,
        contract,
        Effects {
            storage: vec![(contract, 30)],
            ..Effects::default()
        },
    )
    .unwrap();
    let events = s.events();
    let settled: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::CommandExecuted { command, .. } => Some(*command),
            _ => None,
        })
        .collect();
    assert_eq!(settled, vec![a, b]);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ContractTerminated { released, .. } if *released >= 30 * PB
    )));
    assert!(instance(&s.net.chain.ext(), &contract).is_none());
    assert!(!PENDING_COMMANDS.contains(&s.net.chain.ext(), &a));
    assert!(!PENDING_COMMANDS.contains(&s.net.chain.ext(), &b));
    assert!(
        order::CLUSTER_QUEUE
            .get(&s.net.chain.ext(), &s.cluster)
            .is_none()
    );
}

#[test]
fn a_contract_terminated_in_favour_of_itself_releases_to_the_origin() {
    let mut s = setup();
    let contract = s.active_contract();
    let id = s.push(contract, [6; 32], 0);
    let free = s.free(&charlie());
    s.done(
        id,
        contract,
        Effects {
            terminated: vec![(contract, contract.0)],
            ..Effects::default()
        },
    )
    .unwrap();
    let released = ED + 10 * STORAGE_DEPOSIT_PER_BYTE;
    assert_eq!(s.account(&contract), (0, 0));
    assert_eq!(s.free(&charlie()), free + released);
}

#[test]
fn a_report_may_not_open_accounts_its_deposit_limit_cannot_pay_for() {
    let mut s = setup();
    let parent = s.active_contract();
    let code_hash = instance(&s.net.chain.ext(), &parent).unwrap().code_hash;
    let reserved = s.reserved();
    // No deposit: the existential deposit of a new contract's account would have to come
    // out of the caller's other reserves (here, its code deposit).
    let id = s.push(parent, [6; 32], ED - 1);
    let child = NewContract {
        contract: H256([0xc3; 32]),
        code_hash,
        deployer: parent,
        pubkey: [7; 32],
        ecdh_pubkey: [8; 32],
    };
    assert_eq!(
        s.done(
            id,
            parent,
            Effects {
                instantiated: vec![child],
                ..Effects::default()
            }
        ),
        Err(Error::BadReport.into())
    );
    s.done(id, parent, Effects::default()).unwrap();
    assert_eq!(s.reserved(), reserved);
}

/// Random sequences of pushes, instantiations, reports (growing and shrinking storage,
/// instantiating and terminating contracts), cancellations and transfers: nothing is ever
/// created or lost, each caller's reserve is exactly what its pending commands reserved, and
/// each contract holds in reserve at least what its storage costs.
mod conservation {
    use std::collections::BTreeMap;

    use phala_keys::Sr25519Pair;
    use phala_mq::{Message, MessageOrigin, SignedMessage};
    use phala_primitives::{MultiAddress, PHA};
    use proptest::prelude::*;

    use super::*;
    use crate::modules::system;
    use crate::testing::TestChain;

    const PB: Balance = STORAGE_DEPOSIT_PER_BYTE;
    const USERS: [&str; 4] = ["//Charlie", "//Eve", "//Dave", "//Ferdie"];
    /// A beneficiary no one has funded.
    const FRESH: AccountId32 = AccountId32([0xbe; 32]);
    /// The x25519 key every contract here is given: commands are sealed to it.
    const CONTRACT_ECDH: [u8; 32] = [6; 32];

    #[derive(Clone, Debug)]
    enum Op {
        Push {
            who: usize,
            target: usize,
            gas: u64,
            bytes: u16,
            new_account: bool,
        },
        Instantiate {
            who: usize,
            gas: u64,
            bytes: u16,
        },
        /// A report of the pending command `pick`: `used` ‰ of its gas, its contract's storage
        /// changed by `own` bytes (growth within its deposit, shrinking within what the
        /// contract holds), maybe a child contract with some storage, maybe a termination.
        Report {
            pick: usize,
            used: u16,
            fail: bool,
            own: i16,
            spawn: Option<u16>,
            terminate: Option<(usize, usize)>,
        },
        /// Cancels the pending command `pick` once it may be (its cluster never ran it).
        Cancel {
            pick: usize,
        },
        Transfer {
            from: usize,
            to: usize,
            permille: u16,
            all: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..4usize, any::<usize>(), 1..5_000_000u64, 0..300u16, any::<bool>()).prop_map(
                |(who, target, gas, bytes, new_account)| Op::Push {
                    who,
                    target,
                    gas,
                    bytes,
                    new_account
                }
            ),
            2 => (0..4usize, 1..5_000_000u64, 0..300u16)
                .prop_map(|(who, gas, bytes)| Op::Instantiate { who, gas, bytes }),
            5 => (
                any::<usize>(),
                0..=1_000u16,
                prop::bool::weighted(0.15),
                -300..300i16,
                prop::option::weighted(0.4, 0..200u16),
                prop::option::weighted(0.3, (any::<usize>(), 0..6usize)),
            )
                .prop_map(|(pick, used, fail, own, spawn, terminate)| Op::Report {
                    pick,
                    used,
                    fail,
                    own,
                    spawn,
                    terminate
                }),
            1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
            2 => (0..4usize, 0..4usize, 0..=1_000u16, prop::bool::weighted(0.3)).prop_map(
                |(from, to, permille, all)| Op::Transfer {
                    from,
                    to,
                    permille,
                    all
                }
            ),
        ]
    }

    struct Pending {
        id: u64,
        origin: usize,
        contract: H256,
        gas_limit: u64,
        deposit: Balance,
        instantiate: bool,
        pushed_at: u32,
    }

    /// The chain, and what it should hold.
    struct World {
        chain: TestChain,
        reporter: Sr25519Pair,
        sequence: u64,
        code_hash: H256,
        cluster: H256,
        cluster_ecdh: [u8; 32],
        users: Vec<(Sr25519Pair, AccountId32)>,
        /// Active contracts.
        live: Vec<H256>,
        /// Storage bytes each contract has in the cluster, cancelled commands' included.
        bytes: BTreeMap<H256, Balance>,
        /// What each contract should hold in reserve.
        reserve: BTreeMap<H256, Balance>,
        /// Of that, what cancelled commands left beyond the storage they added.
        slack: BTreeMap<H256, Balance>,
        pending: Vec<Pending>,
        code_deposit: Balance,
        start: Balance,
        salts: u32,
        children: u32,
    }

    fn sealed(to: [u8; 32], contract: Option<H256>) -> Envelope {
        let input = SealedInput {
            origin: [0; 32],
            input: vec![0],
            reply_key: None,
        };
        Envelope::seal_with(
            &phala_crypto::EcdhSecret::from_bytes([9; 32]),
            [0; 12],
            &to,
            Purpose::Command,
            contract,
            &input.encode(),
        )
        .unwrap()
    }

    /// Σ free + reserved over every account on chain.
    fn sum_of_accounts(chain: &TestChain) -> Balance {
        let prefix = system::ACCOUNT.prefix();
        chain
            .state
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| {
                let info = system::AccountInfo::decode(&mut v.as_slice()).unwrap();
                info.data.free + info.data.reserved
            })
            .sum()
    }

    impl World {
        fn new(template: &(TestChain, H256, H256, [u8; 32], H256)) -> Self {
            let (chain, code_hash, cluster, cluster_ecdh, parent) = template;
            let chain = chain.clone();
            let reporter = pair("//W1");
            let sequence = message_queue::OFFCHAIN_INGRESS
                .get(&chain.ext(), &MessageOrigin::Worker(reporter.public()))
                .unwrap_or(0);
            let users: Vec<_> = USERS
                .iter()
                .map(|uri| (pair(uri), AccountId32(pair(uri).public())))
                .collect();
            let code_deposit = balances::account_data(&chain.ext(), &users[0].1).reserved;
            let start = balances::total_issuance(&chain.ext());
            let stored = 10 * PB;
            World {
                chain,
                reporter,
                sequence,
                code_hash: *code_hash,
                cluster: *cluster,
                cluster_ecdh: *cluster_ecdh,
                users,
                live: vec![*parent],
                bytes: BTreeMap::from([(*parent, 10)]),
                reserve: BTreeMap::from([(*parent, stored)]),
                slack: BTreeMap::from([(*parent, 0)]),
                pending: Vec::new(),
                code_deposit,
                start,
                salts: 0,
                children: 0,
            }
        }

        /// Signs `call` as user `who` and applies it in a block: whether it succeeded. A
        /// transaction its signer cannot pay for is left out of the block.
        fn apply(&mut self, who: usize, call: RuntimeCall) -> bool {
            let (signer, account) = &self.users[who];
            let nonce = self.chain.nonce(account);
            let xt = self.chain.sign(signer, call, nonce);
            let (_, outcomes) = self.chain.produce(vec![xt]);
            outcomes == vec![Ok(true)]
        }

        fn report(&mut self, report: ContractReport) -> Result<(), DispatchError> {
            let message = Message::new(
                MessageOrigin::Worker(self.reporter.public()),
                CONTRACT_REPORT,
                report.encode(),
            );
            let signed =
                SignedMessage::sign(&self.chain.ctx.genesis_hash, message, self.sequence, |p| {
                    self.reporter.sign(p)
                });
            self.sequence += 1;
            let bob = pair("//Bob");
            let nonce = self.chain.nonce(&AccountId32(bob.public()));
            let xt = self.chain.sign(
                &bob,
                RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_message {
                    signed_message: signed,
                }),
                nonce,
            );
            let (_, outcomes) = self.chain.produce(vec![xt]);
            assert_eq!(outcomes, vec![Ok(true)]);
            match self.chain.events_of(1).into_iter().find_map(|e| match e {
                RuntimeEvent::MessageQueue(message_queue::Event::DispatchFailed {
                    error, ..
                }) => Some(error),
                _ => None,
            }) {
                Some(error) => Err(error),
                None => Ok(()),
            }
        }

        fn run(&mut self, op: Op) {
            match op {
                Op::Push {
                    who,
                    target,
                    gas,
                    bytes,
                    new_account,
                } => {
                    if self.live.is_empty() {
                        return;
                    }
                    let contract = self.live[target % self.live.len()];
                    let deposit = Balance::from(bytes) * PB + if new_account { ED } else { 0 };
                    let id = NEXT_COMMAND_ID.get_or_default(&self.chain.ext());
                    let call = RuntimeCall::Contracts(Call::push_command {
                        contract,
                        payload: sealed(CONTRACT_ECDH, Some(contract)),
                        gas_limit: gas,
                        deposit,
                    });
                    if self.apply(who, call) {
                        self.pending.push(Pending {
                            id,
                            origin: who,
                            contract,
                            gas_limit: gas,
                            deposit,
                            instantiate: false,
                            pushed_at: self.chain.number,
                        });
                    }
                }
                Op::Instantiate { who, gas, bytes } => {
                    self.salts += 1;
                    let salt = self.salts.to_le_bytes().to_vec();
                    let deployer = self.users[who].1;
                    let contract = contract_id(&deployer, &self.code_hash, &self.cluster, &salt);
                    let deposit = ED + Balance::from(bytes) * PB;
                    let id = NEXT_COMMAND_ID.get_or_default(&self.chain.ext());
                    let call = RuntimeCall::Contracts(Call::instantiate {
                        code_hash: self.code_hash,
                        data: sealed(self.cluster_ecdh, None),
                        salt,
                        cluster: self.cluster,
                        gas_limit: gas,
                        deposit,
                    });
                    if self.apply(who, call) {
                        self.pending.push(Pending {
                            id,
                            origin: who,
                            contract,
                            gas_limit: gas,
                            deposit,
                            instantiate: true,
                            pushed_at: self.chain.number,
                        });
                    }
                }
                Op::Report {
                    pick,
                    used,
                    fail,
                    own,
                    spawn,
                    terminate,
                } => self.report_one(pick, used, fail, own, spawn, terminate),
                Op::Cancel { pick } => {
                    if self.pending.is_empty() {
                        return;
                    }
                    let i = pick % self.pending.len();
                    let due = self.pending[i].pushed_at + COMMAND_TIMEOUT;
                    // The cancellation goes in the next block.
                    while self.chain.number + 1 < due {
                        self.chain.produce(vec![]);
                    }
                    let command = self.pending[i].id;
                    let origin = self.pending[i].origin;
                    if !self.apply(
                        origin,
                        RuntimeCall::Contracts(Call::cancel_command { command }),
                    ) {
                        // Only a submitter that cannot pay the transaction fee fails here.
                        assert_eq!(self.chain.failure(1), None);
                        return;
                    }
                    // A cancelled command's cluster is taken not to have run it: one that ran
                    // it would have reported it, and reports settle in order (a cluster that
                    // ran it and then fell silent is the documented residual).
                    self.pending.remove(i);
                }
                Op::Transfer {
                    from,
                    to,
                    permille,
                    all,
                } => {
                    let dest = MultiAddress::Id(self.users[to].1);
                    let call = if all {
                        balances::Call::transfer_all {
                            dest,
                            keep_alive: false,
                        }
                    } else {
                        let free = self.chain.free(&self.users[from].1);
                        balances::Call::transfer_keep_alive {
                            dest,
                            value: free / 1_000 * Balance::from(permille),
                        }
                    };
                    self.apply(from, RuntimeCall::Balances(call));
                }
            }
        }

        fn report_one(
            &mut self,
            pick: usize,
            used: u16,
            fail: bool,
            own: i16,
            spawn: Option<u16>,
            terminate: Option<(usize, usize)>,
        ) {
            if self.pending.is_empty() {
                return;
            }
            // Reports settle in command order (out-of-order arrival has its own test): the
            // oldest pending command is the one that settles.
            let _ = pick;
            let p = self.pending.remove(0);
            let c = p.contract;
            let gas_used = p.gas_limit / 1_000 * u64::from(used);
            let mut report = ContractReport::Executed {
                id: p.id,
                contract: c,
                status: CommandStatus::Success,
                gas_used,
                contract_keys: None,
                output: None,
                effects: Effects::default(),
                reply: None,
            };
            let ContractReport::Executed {
                status,
                contract_keys,
                effects,
                ..
            } = &mut report;
            if !p.instantiate && !self.live.contains(&c) {
                // Its contract terminated meanwhile: the cluster found nothing to run.
                *status = CommandStatus::NotFound;
                assert_eq!(self.report(report), Ok(()));
                return;
            }
            if fail {
                // Whatever a failed command's report says it did is ignored.
                *status = CommandStatus::Trapped;
                effects.storage = vec![(c, 5)];
                assert_eq!(self.report(report), Ok(()));
                return;
            }
            let mut budget = p.deposit;
            if p.instantiate {
                *contract_keys = Some(([5; 32], CONTRACT_ECDH));
                budget -= ED;
                self.live.push(c);
                self.bytes.insert(c, 0);
                self.reserve.insert(c, 0);
                self.slack.insert(c, 0);
            }
            let held = self.bytes[&c];
            let own = if own >= 0 {
                let grown = Balance::from(own.unsigned_abs()).min(budget / PB);
                budget -= grown * PB;
                *self.bytes.get_mut(&c).unwrap() += grown;
                *self.reserve.get_mut(&c).unwrap() += grown * PB;
                grown as i64
            } else {
                let freed = Balance::from(own.unsigned_abs()).min(held);
                *self.bytes.get_mut(&c).unwrap() -= freed;
                *self.reserve.get_mut(&c).unwrap() -= freed * PB;
                -(freed as i64)
            };
            if own != 0 {
                effects.storage.push((c, own));
            }
            let mut child = None;
            if let Some(child_bytes) = spawn
                && budget >= ED
            {
                budget -= ED;
                self.children += 1;
                let new = H256(phala_primitives::hashing::blake2_256(
                    &(b"child", self.children).encode(),
                ));
                effects.instantiated.push(NewContract {
                    contract: new,
                    code_hash: self.code_hash,
                    deployer: c,
                    pubkey: [5; 32],
                    ecdh_pubkey: CONTRACT_ECDH,
                });
                let grown = Balance::from(child_bytes).min(budget / PB);
                if grown > 0 {
                    effects.storage.push((new, grown as i64));
                }
                self.live.push(new);
                self.bytes.insert(new, grown);
                self.reserve.insert(new, grown * PB);
                self.slack.insert(new, 0);
                child = Some(new);
            }
            let candidates: Vec<H256> = self
                .live
                .iter()
                .filter(|x| Some(**x) != child)
                .copied()
                .collect();
            let mut terminated = None;
            if let Some((t, b)) = terminate
                && !candidates.is_empty()
            {
                let target = candidates[t % candidates.len()];
                let beneficiary = match b {
                    0..4 => self.users[b].1,
                    4 => contract_account(&target),
                    _ => FRESH,
                };
                effects.terminated.push((target, beneficiary.0));
                terminated = Some(target);
            }
            assert_eq!(self.report(report), Ok(()));
            if let Some(target) = terminated {
                self.live.retain(|x| *x != target);
                self.bytes.remove(&target);
                self.reserve.remove(&target);
                self.slack.remove(&target);
                let ext = self.chain.ext();
                assert!(instance(&ext, &target).is_none());
                assert!(!system::account_exists(&ext, &contract_account(&target)));
            }
        }

        fn check(&self) {
            let ext = self.chain.ext();
            let issuance = balances::total_issuance(&ext);
            assert_eq!(sum_of_accounts(&self.chain), issuance);
            assert_eq!(issuance, self.start, "value created or lost");
            // A caller's reserve is exactly what its pending commands reserved: settlement
            // and cancellation never reach into another command's (or the code's) reserve.
            for (i, (_, who)) in self.users.iter().enumerate() {
                let pending: Balance = self
                    .pending
                    .iter()
                    .filter(|p| p.origin == i)
                    .map(|p| Balance::from(p.gas_limit) * GAS_PRICE + p.deposit)
                    .sum();
                let code = if i == 0 { self.code_deposit } else { 0 };
                assert_eq!(
                    balances::account_data(&ext, who).reserved,
                    pending + code,
                    "{}",
                    USERS[i]
                );
            }
            for c in &self.live {
                let data = balances::account_data(&ext, &contract_account(c));
                let record = instance(&ext, c).unwrap();
                assert!(data.free >= ED);
                assert_eq!(data.reserved, self.reserve[c]);
                assert_eq!(record.storage_deposit, data.reserved);
                // What the storage costs, and exactly that unless a cancelled command left
                // more than it used.
                assert!(data.reserved >= self.bytes[c] * PB);
                assert_eq!(data.reserved - self.bytes[c] * PB, self.slack[c]);
            }
        }
    }

    #[test]
    fn value_is_conserved_and_storage_always_paid_for() {
        let mut s = setup();
        let parent = s.active_contract();
        for (uri, amount) in [("//Eve", PHA / 20), ("//Dave", PHA / 5), ("//Ferdie", PHA)] {
            s.net
                .bob(RuntimeCall::Balances(balances::Call::transfer_keep_alive {
                    dest: MultiAddress::Id(AccountId32(pair(uri).public())),
                    value: amount,
                }));
        }
        let code_hash = instance(&s.net.chain.ext(), &parent).unwrap().code_hash;
        let template = (
            s.net.chain.clone(),
            code_hash,
            s.cluster,
            s.cluster_key.ecdh_public(),
            parent,
        );
        proptest!(ProptestConfig::with_cases(64), |(ops in proptest::collection::vec(op(), 4..20))| {
            let mut world = World::new(&template);
            world.check();
            for op in ops {
                world.run(op);
                world.check();
            }
        });
    }
}

/// A report of 4 × 64 effects does 4 × 64 times the storage work of one: its weight must
/// say so, or a cluster member could fill blocks with work it does not pay for.
#[test]
fn a_reports_weight_grows_with_its_effects() {
    let message = |effects: Effects| {
        let report = ContractReport::Executed {
            id: 0,
            contract: H256([1; 32]),
            status: CommandStatus::Success,
            gas_used: 0,
            contract_keys: None,
            output: None,
            effects,
            reply: None,
        };
        let signed = phala_mq::SignedMessage {
            message: phala_mq::Message::new(
                phala_mq::MessageOrigin::Worker([1; 32]),
                CONTRACT_REPORT,
                report.encode(),
            ),
            sequence: 0,
            signature: vec![0; 64],
        };
        message_queue::Call::sync_offchain_message {
            signed_message: signed,
        }
        .info::<crate::Wiring>()
        .weight
        .ref_time
    };
    let small = message(Effects::default());
    let full = message(Effects {
        storage: (0..MAX_EFFECTS as u8).map(|i| (H256([i; 32]), 1)).collect(),
        instantiated: (0..MAX_EFFECTS as u8)
            .map(|i| NewContract {
                contract: H256([i; 32]),
                deployer: H256([i; 32]),
                code_hash: H256([i; 32]),
                pubkey: [i; 32],
                ecdh_pubkey: [i; 32],
            })
            .collect(),
        terminated: (0..MAX_EFFECTS as u8)
            .map(|i| (H256([i; 32]), [i; 32]))
            .collect(),
        code_changed: (0..MAX_EFFECTS as u8)
            .map(|i| (H256([i; 32]), H256([i; 32])))
            .collect(),
        sent: Vec::new(),
    });
    // At least one storage read and write per listed effect beyond the empty report.
    let per_effect = crate::modules::weights::DB_READ + crate::modules::weights::DB_WRITE;
    assert!(
        full - small >= 4 * MAX_EFFECTS as u64 * per_effect,
        "{small} vs {full}"
    );
}

#[test]
fn governance_prices_commands_from_their_push_on() {
    use crate::dispatch::Origin;
    use crate::origin::GovOrigin;
    let mut s = setup();
    let contract = s.active_contract();
    let (ecdh, gas) = (
        instance(&s.net.chain.ext(), &contract)
            .unwrap()
            .ecdh_pubkey
            .unwrap(),
        1_000,
    );
    let set = |pricing| RuntimeCall::Contracts(Call::set_pricing { pricing });
    let dearer = Pricing {
        gas_price: 3 * GAS_PRICE,
        storage_deposit_per_byte: 2 * STORAGE_DEPOSIT_PER_BYTE,
        code_deposit_per_byte: CODE_DEPOSIT_PER_BYTE,
    };
    assert_eq!(
        s.net
            .chain
            .mutate(|ext| set(dearer).dispatch(ext, Origin::Signed(charlie()))),
        Err(DispatchError::BadOrigin)
    );
    for bad in [
        Pricing {
            gas_price: 0,
            ..dearer
        },
        Pricing {
            gas_price: MAX_GAS_PRICE + 1,
            ..dearer
        },
        Pricing {
            storage_deposit_per_byte: MAX_DEPOSIT_PER_BYTE + 1,
            ..dearer
        },
        Pricing {
            code_deposit_per_byte: 0,
            ..dearer
        },
    ] {
        assert_eq!(
            s.net
                .chain
                .mutate(|ext| set(bad).dispatch(ext, Origin::Root)),
            Err(Error::BadPricing.into())
        );
    }

    // Pushed at the old prices: settled at them after the change.
    let reserved = s.reserved();
    let old = s.push(contract, ecdh, 10 * STORAGE_DEPOSIT_PER_BYTE);
    assert_eq!(
        s.reserved(),
        reserved + GAS_PRICE * gas + 10 * STORAGE_DEPOSIT_PER_BYTE
    );
    s.net
        .chain
        .mutate(|ext| set(dearer).dispatch(ext, Origin::Gov(GovOrigin::Parameters)))
        .unwrap();
    assert_eq!(pricing(&s.net.chain.ext()), dearer);
    let treasury = s.free(&TREASURY_ACCOUNT);
    let grown = Effects {
        storage: vec![(contract, 4)],
        ..Effects::default()
    };
    s.done(old, contract, grown.clone()).unwrap();
    assert_eq!(s.reserved(), reserved);
    assert!(s.free(&TREASURY_ACCOUNT) >= treasury + GAS_PRICE * gas);
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_deposit, .. } if *storage_deposit == 4 * STORAGE_DEPOSIT_PER_BYTE
    )));

    // Pushed now: reserved, carried to the members and settled at the new ones.
    let new = s.push(contract, ecdh, 10 * dearer.storage_deposit_per_byte);
    assert_eq!(
        s.reserved(),
        reserved + dearer.gas_price * gas + 10 * dearer.storage_deposit_per_byte
    );
    assert!(matches!(
        s.commands().last(),
        Some(ContractCommand::Call { pricing, .. }) if *pricing == dearer
    ));
    s.done(new, contract, grown).unwrap();
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_deposit, .. } if *storage_deposit == 4 * dearer.storage_deposit_per_byte
    )));

    // Freeing bytes stored cheaply, at the dearer price, refunds their share of what the
    // contract holds, not the dearer price: nobody draws out what others paid.
    let record = instance(&s.net.chain.ext(), &contract).unwrap();
    let share = record.storage_deposit * 4 / u128::from(record.storage_bytes);
    let free = s.push(contract, ecdh, 0);
    let freed = Effects {
        storage: vec![(contract, -4)],
        ..Effects::default()
    };
    s.done(free, contract, freed).unwrap();
    assert!(share < 4 * dearer.storage_deposit_per_byte);
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_refunded, .. } if *storage_refunded == share
    )));
}

#[test]
fn root_removes_a_member_but_never_the_last() {
    use crate::dispatch::Origin;
    let mut s = setup();
    let contract = s.active_contract();
    let ecdh = instance(&s.net.chain.ext(), &contract)
        .unwrap()
        .ecdh_pubkey
        .unwrap();
    let (w1, w2) = (s.w1.pair.public(), s.w2.pair.public());
    let remove = |worker| RuntimeCall::Contracts(Call::remove_cluster_worker { worker });
    assert_eq!(
        s.net.chain.mutate(
            |ext| remove(w1).dispatch(ext, Origin::Gov(crate::origin::GovOrigin::Parameters))
        ),
        Err(DispatchError::BadOrigin)
    );
    assert_eq!(
        s.net
            .chain
            .mutate(|ext| remove(s.outsider.pair.public()).dispatch(ext, Origin::Root)),
        Err(Error::NotInCluster.into())
    );
    s.net
        .chain
        .mutate(|ext| remove(w1).dispatch(ext, Origin::Root))
        .unwrap();
    let info = CLUSTERS.get(&s.net.chain.ext(), &s.cluster).unwrap();
    assert_eq!(info.workers, vec![w2]);
    assert!(WORKER_CLUSTER.get(&s.net.chain.ext(), &w1).is_none());
    assert_eq!(
        s.net
            .chain
            .mutate(|ext| remove(w2).dispatch(ext, Origin::Root)),
        Err(Error::LastMember.into())
    );
    // The removed worker's reports are no longer taken; the remaining member's are.
    let id = s.push(contract, ecdh, 0);
    assert_eq!(
        s.report(1, executed(id, contract, CommandStatus::Success, false)),
        Err(Error::NotInCluster.into())
    );
    s.report(2, executed(id, contract, CommandStatus::Success, false))
        .unwrap();
}
