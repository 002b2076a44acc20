//! The genesis state of a chain.

use std::collections::{BTreeMap, BTreeSet};

use phala_primitives::{AccountId32, Balance, MAX_ISSUANCE};

use crate::Ext;
use crate::modules::balances::{self, EXISTENTIAL_DEPOSIT};
use crate::modules::system::{self, GENESIS_HASH_PLACEHOLDER, LastRuntimeUpgradeInfo};
use crate::modules::transaction_payment::{MULTIPLIER_ONE, NEXT_FEE_MULTIPLIER};
use crate::modules::validators::{self, Params};
use crate::modules::{computation, registry, sudo};
use crate::version::{SPEC_NAME, SPEC_VERSION};

/// What a chain starts with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenesisConfig {
    /// Initial balances. Each at least the existential deposit, no account twice, and the
    /// sum within the 1,000,000,000 PHA cap.
    pub endowed: Vec<(AccountId32, Balance)>,
    pub validators: ValidatorsGenesis,
    pub registry: RegistryGenesis,
    /// The computation economics' per-block parameters.
    pub computation: ComputationGenesis,
    /// The stake pools' withdrawal grace period.
    pub stake_pools: crate::modules::stake_pools::Params,
    /// The account that may make root calls through `Sudo` (development chains), or none.
    pub sudo_key: Option<AccountId32>,
    /// Governance's tracks, deposits and periods.
    pub governance: crate::modules::referenda::GovernanceParams,
    /// The treasury's spend period, burn rate, payout period and spending limits.
    pub treasury: crate::modules::treasury::Params,
    /// The runtime version the chain starts with (`None`: this build's `SPEC_VERSION`).
    /// Recorded in the chain spec, so a later release, whose `SPEC_VERSION` is higher,
    /// still builds the same genesis.
    pub spec_version: Option<u32>,
}

/// The measurement simulated workers report: development chains allow it from genesis.
pub const DEV_WORKER_MEASUREMENT: [u8; 32] = phala_attestation::simulated::DEV_MEASUREMENT;

/// What workers may register with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryGenesis {
    /// Accept simulated TEEs: development chains only.
    pub allow_simulated_tee: bool,
    /// Measurements allowed from genesis (see `registry::MAX_MEASUREMENT_LEN`).
    pub measurements: Vec<Vec<u8>>,
    /// Intel advisories that keep a ConfigurationNeeded platform at level 3.
    pub advisory_whitelist: Vec<String>,
    /// Development chains: workers these accounts operate become gatekeepers on
    /// registration.
    pub gatekeeper_operators: Vec<AccountId32>,
    /// Attestation validity and the confidence levels roles need.
    pub params: registry::RegistryParams,
}

impl Default for RegistryGenesis {
    fn default() -> Self {
        RegistryGenesis {
            allow_simulated_tee: false,
            measurements: Vec::new(),
            advisory_whitelist: phala_attestation::DEFAULT_ADVISORY_WHITELIST
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            gatekeeper_operators: Vec::new(),
            params: registry::RegistryParams::default(),
        }
    }
}

/// The genesis validators and the module's parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidatorsGenesis {
    pub params: Params,
    /// `(account, consensus key, p2p address, bond)`: bonded and standing for election; the
    /// top `committee_size` of them form the epoch-0 committee.
    pub validators: Vec<(AccountId32, [u8; 32], Vec<u8>, Balance)>,
}

/// The economics a chain starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputationGenesis {
    pub params: phala_tokenomics::Params,
    /// Parts per billion of a session's stake a proven double signing costs.
    pub double_sign_slash: u32,
}

/// A tenth of the stake: enough that rolling a worker back never pays, not so much that
/// delegators who could not have known lose everything.
pub const DEFAULT_DOUBLE_SIGN_SLASH: u32 = 100_000_000;

/// Block time the default parameters assume: what a chain spec without its own
/// economics gets (a spec converts them with its own block time).
pub const DEFAULT_BLOCK_MS: u64 = 1_000;

impl Default for ComputationGenesis {
    fn default() -> Self {
        let economics = phala_tokenomics::Economics::default();
        ComputationGenesis {
            // Classic Phala's economics at one-second blocks convert without error (the
            // tokenomics crate's tests show it); the all-zero fallback, never taken, would
            // be refused by the genesis build.
            params: phala_tokenomics::Params::from_economics(&economics, DEFAULT_BLOCK_MS)
                .unwrap_or_default(),
            double_sign_slash: DEFAULT_DOUBLE_SIGN_SLASH,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    #[error("account {0} is endowed twice")]
    Duplicate(AccountId32),
    #[error("account {0} is endowed below the existential deposit")]
    BelowExistentialDeposit(AccountId32),
    #[error("genesis balances total more than the 1,000,000,000 PHA cap")]
    AboveCap,
    #[error("genesis state could not be built: {0}")]
    Build(String),
}

impl GenesisConfig {
    /// The genesis storage (key → SCALE value).
    pub fn build_storage(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, GenesisError> {
        let mut seen = BTreeSet::new();
        let mut total: Balance = 0;
        for (who, amount) in &self.endowed {
            if !seen.insert(*who) {
                return Err(GenesisError::Duplicate(*who));
            }
            if *amount < EXISTENTIAL_DEPOSIT {
                return Err(GenesisError::BelowExistentialDeposit(*who));
            }
            total = total.checked_add(*amount).ok_or(GenesisError::AboveCap)?;
        }
        if total > MAX_ISSUANCE {
            return Err(GenesisError::AboveCap);
        }

        let genesis_version = self.spec_version.unwrap_or(SPEC_VERSION);
        if genesis_version > crate::version::NEWEST_SPEC_VERSION || genesis_version == 0 {
            return Err(GenesisError::Build(format!(
                "the chain starts with runtime spec version {genesis_version}, and this build \
                 runs versions up to {}: install a phala release that supports it",
                crate::version::NEWEST_SPEC_VERSION
            )));
        }
        let empty = BTreeMap::new();
        let mut ext = Ext::new(&empty);
        system::BLOCK_HASH.insert(&mut ext, &0, &GENESIS_HASH_PLACEHOLDER);
        system::NUMBER.put(&mut ext, &0);
        system::LAST_RUNTIME_UPGRADE.put(
            &mut ext,
            &LastRuntimeUpgradeInfo {
                spec_version: genesis_version.into(),
                spec_name: SPEC_NAME.into(),
            },
        );
        NEXT_FEE_MULTIPLIER.put(&mut ext, &MULTIPLIER_ONE);
        balances::TOTAL_ISSUANCE.put(&mut ext, &0);
        for (who, amount) in &self.endowed {
            balances::endow_genesis(&mut ext, who, *amount)
                .map_err(|e| GenesisError::Build(format!("{e:?}")))?;
        }
        if !self.validators.validators.is_empty() {
            validators::build_genesis(
                &mut ext,
                self.validators.params,
                &self.validators.validators,
            )
            .map_err(GenesisError::Build)?;
        }
        registry::build_genesis(&mut ext, &self.registry).map_err(GenesisError::Build)?;
        computation::build_genesis(
            &mut ext,
            &self.computation.params,
            self.computation.double_sign_slash,
        )
        .map_err(GenesisError::Build)?;
        crate::modules::stake_pools::build_genesis(&mut ext, &self.stake_pools);
        if let Some(key) = self.sudo_key {
            sudo::KEY.put(&mut ext, &key);
        }
        let governance = self
            .governance
            .clone()
            .normalize()
            .map_err(|e| GenesisError::Build(format!("governance: {e}")))?;
        crate::modules::referenda::PARAMS.put(&mut ext, &governance);
        self.treasury
            .check()
            .map_err(|e| GenesisError::Build(e.into()))?;
        crate::modules::treasury::PARAMS.put(&mut ext, &self.treasury);
        // Genesis has no block events.
        ext.take_events();
        Ok(ext
            .into_changes()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}
