//! Code upload, instantiation, commands and their settlement, driven by signed reports as
//! cluster workers send them.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::{Envelope, Purpose};
use phala_mq::contracts::{
    CONTRACT_COMMAND, CONTRACT_REPORT, CommandStatus, ContractCommand, ContractReport, Effects,
    MAX_EFFECTS, NewContract, SealedInput,
};
use phala_mq::topics::GatekeeperReport;
use phala_primitives::{AccountId32, H256};

use super::*;
use crate::dispatch::DispatchError;
use crate::modules::registry::gatekeeper_tests::{Net, Worker, add_gatekeeper};
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

struct Setup {
    net: Net,
    w1: Worker,
    w2: Worker,
    outsider: Worker,
    cluster: H256,
    cluster_key: KeyPair,
    charlie_nonce: u32,
}

fn setup() -> Setup {
    let mut net = Net::new();
    let mut gk = net.worker("//Gk1", 1);
    let w1 = net.worker("//W1", 2);
    let w2 = net.worker("//W2", 3);
    let outsider = net.worker("//W3", 4);
    net.bob(RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: phala_primitives::MultiAddress::Id(charlie()),
        value: 500 * phala_primitives::PHA,
    }));
    net.root(add_gatekeeper(&gk)).unwrap();
    let master = KeyPair::new(Seed::from_bytes([0x11; 32]));
    net.report(
        &mut gk,
        GatekeeperReport::MasterPubkey {
            pubkey: master.public(),
            ecdh_pubkey: master.ecdh_public(),
        },
    )
    .unwrap();
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
        GatekeeperReport::ClusterKey {
            cluster,
            pubkey: cluster_key.public(),
            ecdh_pubkey: cluster_key.ecdh_public(),
            envelopes,
        },
    )
    .unwrap();
    Setup {
        net,
        w1,
        w2,
        outsider,
        cluster,
        cluster_key,
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

    fn events(&self) -> Vec<Event> {
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

    fn report(&mut self, from: u8, report: ContractReport) -> Result<(), DispatchError> {
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

fn executed(id: u64, contract: H256, status: CommandStatus, keys: bool) -> ContractReport {
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
    s.charlie(Call::cancel_command { command: 0 }).unwrap();
    assert_eq!(
        s.events(),
        vec![Event::CommandCancelled {
            contract,
            command: 0
        }]
    );
    assert_eq!(s.reserved(), reserved_before);
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
    fn active_contract(&mut self) -> H256 {
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
    fn push(&mut self, contract: H256, ecdh: [u8; 32], deposit: Balance) -> u64 {
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

    // Freed storage is paid back to the caller, never more than the contract holds.
    s.resize(parent, -30, 0);
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::CommandExecuted { storage_refunded, storage_deposit: 0, .. } if *storage_refunded == 30 * PB
    )));
    assert_eq!(s.account(&parent), (ED, 35 * PB));
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
        },
    )
    .unwrap();
    assert!(PENDING_COMMANDS.get(&s.net.chain.ext(), &id).is_none());
}
