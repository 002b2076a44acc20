//! An in-memory chain for runtime tests: genesis, signing, block production, invariants.

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};
use phala_keys::Sr25519Pair;
use phala_primitives::extrinsic::AdditionalSigned;
use phala_primitives::{
    AccountId32, Balance, Era, H256, MAX_ISSUANCE, OpaqueExtrinsic, PHA, SignedExtra,
};

use crate::block::{BlockBuilder, BuiltBlock, Skipped};
use crate::executive::Context;
use crate::modules::system::{self, AccountInfo, EventRecord};
use crate::modules::{TREASURY_ACCOUNT, balances};
use crate::version::{SPEC_VERSION, TRANSACTION_VERSION};
use crate::{Ext, GenesisConfig, RuntimeCall, RuntimeEvent, UncheckedExtrinsic};

pub fn pair(uri: &str) -> Sr25519Pair {
    Sr25519Pair::from_uri(uri).unwrap()
}

pub fn account(uri: &str) -> AccountId32 {
    pair(uri).account_id()
}

#[derive(Clone)]
pub struct TestChain {
    pub state: BTreeMap<Vec<u8>, Vec<u8>>,
    pub ctx: Context,
    pub number: u32,
    pub head: H256,
    pub hashes: Vec<H256>,
    pub now: u64,
}

impl TestChain {
    /// Alice, Bob and Charlie with 1,000 PHA each, the treasury with 1 PHA.
    pub fn new() -> Self {
        Self::with_genesis(GenesisConfig {
            endowed: vec![
                (account("//Alice"), 1_000 * PHA),
                (account("//Bob"), 1_000 * PHA),
                (account("//Charlie"), 1_000 * PHA),
                (TREASURY_ACCOUNT, PHA),
            ],
            ..Default::default()
        })
    }

    pub fn with_genesis(genesis: GenesisConfig) -> Self {
        let state = genesis.build_storage().unwrap();
        let head = H256([42; 32]);
        TestChain {
            state,
            ctx: Context { genesis_hash: head },
            number: 0,
            head,
            hashes: vec![head],
            now: 1_000,
        }
    }

    pub fn ext(&self) -> Ext<'_> {
        Ext::new(&self.state)
    }

    pub fn free(&self, who: &AccountId32) -> Balance {
        balances::free_balance(&self.ext(), who)
    }

    pub fn info(&self, who: &AccountId32) -> AccountInfo {
        system::account(&self.ext(), who)
    }

    pub fn nonce(&self, who: &AccountId32) -> u32 {
        self.info(who).nonce
    }

    /// A signed extrinsic from `signer`, mortal for 64 blocks from the head.
    pub fn sign(&self, signer: &Sr25519Pair, call: RuntimeCall, nonce: u32) -> OpaqueExtrinsic {
        self.sign_with(
            signer,
            call,
            nonce,
            Era::mortal(64, u64::from(self.number)),
            0,
        )
    }

    pub fn sign_with(
        &self,
        signer: &Sr25519Pair,
        call: RuntimeCall,
        nonce: u32,
        era: Era,
        tip: Balance,
    ) -> OpaqueExtrinsic {
        let extra = SignedExtra { era, nonce, tip };
        let birth = era.birth(u64::from(self.number));
        let birth_hash = self.hashes.get(birth as usize).copied().unwrap_or_default();
        let additional = AdditionalSigned {
            spec_version: SPEC_VERSION,
            transaction_version: TRANSACTION_VERSION,
            genesis_hash: self.ctx.genesis_hash,
            birth_hash,
        };
        let xt = UncheckedExtrinsic::new_signed_sr25519(
            call,
            signer.account_id(),
            extra,
            &additional,
            |m| signer.sign(m),
        );
        OpaqueExtrinsic::from_bytes(xt.encode()).unwrap()
    }

    /// Builds the next block from `txs`, keeping those that apply. Returns the block and the
    /// outcome of each transaction.
    pub fn produce(
        &mut self,
        txs: Vec<OpaqueExtrinsic>,
    ) -> (BuiltBlock, Vec<Result<bool, Skipped>>) {
        self.now += 1_000;
        let number = self.number + 1;
        let (built, outcomes) = {
            let mut builder =
                BlockBuilder::new(&self.state, self.ctx, self.head, number, self.now).unwrap();
            let outcomes = txs
                .into_iter()
                .map(|xt| builder.push(xt).map(|a| a.success))
                .collect();
            (builder.finish().unwrap(), outcomes)
        };
        // Re-execution gives the same result.
        let again = crate::block::execute_block(
            &self.state,
            self.ctx,
            self.head,
            number,
            &built.extrinsics,
        )
        .unwrap();
        assert_eq!(again.changes, built.changes);
        for (k, v) in &built.changes {
            match v {
                Some(v) => self.state.insert(k.clone(), v.clone()),
                None => self.state.remove(k),
            };
        }
        self.number = number;
        self.head =
            phala_primitives::hashing::hash256(&(number, built.extrinsics.clone()).encode());
        self.hashes.push(self.head);
        self.check_invariants();
        (built, outcomes)
    }

    /// Runs `f` on the state outside any block (what a test sets up or probes directly)
    /// and keeps what it changed; checks the invariants after.
    pub fn mutate<R>(&mut self, f: impl FnOnce(&mut crate::Ext) -> R) -> R {
        let mut ext = crate::Ext::new(&self.state);
        let out = f(&mut ext);
        let changes = ext.into_changes();
        for (k, v) in changes {
            match v {
                Some(v) => self.state.insert(k, v),
                None => self.state.remove(&k),
            };
        }
        self.check_invariants();
        out
    }

    /// Total issuance equals the sum of all balances and stays within the cap; every live
    /// account holds the existential deposit, free while it has reserves.
    pub fn check_invariants(&self) {
        let prefix = system::ACCOUNT.prefix();
        let mut sum: Balance = 0;
        for (key, value) in self.state.range(prefix.clone()..) {
            if !key.starts_with(&prefix) {
                break;
            }
            let info = AccountInfo::decode(&mut value.as_slice()).unwrap();
            assert!(
                info.data.free + info.data.reserved >= balances::EXISTENTIAL_DEPOSIT,
                "live account below ED"
            );
            assert!(
                info.data.reserved == 0 || info.data.free >= balances::EXISTENTIAL_DEPOSIT,
                "an account with reserves has less than ED free: {info:?}"
            );
            sum += info.data.free + info.data.reserved;
        }
        let issuance = balances::total_issuance(&self.ext());
        assert_eq!(sum, issuance, "issuance does not match balances");
        assert!(issuance <= MAX_ISSUANCE);
    }

    /// The error the call of extrinsic `index` failed with, if it failed.
    pub fn failure(&self, index: u32) -> Option<crate::dispatch::DispatchError> {
        self.events_of(index).into_iter().find_map(|e| match e {
            RuntimeEvent::System(system::Event::ExtrinsicFailed { dispatch_error, .. }) => {
                Some(dispatch_error)
            }
            _ => None,
        })
    }

    pub fn events(&self) -> Vec<EventRecord> {
        system::EVENTS.get_or_default(&self.ext())
    }

    pub fn events_of(&self, index: u32) -> Vec<RuntimeEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.phase == system::Phase::ApplyExtrinsic(index))
            .map(|e| e.event)
            .collect()
    }
}
