//! Chain specifications: everything that defines a chain and its genesis, as a JSON file.
//!
//! The genesis block commits to the whole spec that matters for consensus and state: the
//! state root covers balances, bonds, candidates and the module parameters; the header's
//! digest carries the block time and epoch length, and the epoch-0 committee, so a light
//! client that trusts a genesis hash knows who signs the first epoch.

use std::collections::BTreeMap;
use std::path::Path;

use parity_scale_codec::Encode;
use phala_primitives::consensus::{CommitteeChange, MAX_EPOCH_LENGTH, MIN_EPOCH_LENGTH};
use phala_primitives::{
    AccountId32, Balance, Block, DigestItem, H256, Header, PHA, block::extrinsics_root,
};
use phala_runtime::genesis::{RegistryGenesis, ValidatorsGenesis};
use phala_runtime::modules::validators::{self, Params};
use phala_runtime::{Ext, GenesisConfig};
use serde::{Deserialize, Serialize};

/// Engine id of the genesis digest entry with the chain's timing: `(block_time_ms,
/// epoch_length)`.
pub const GENESIS_ENGINE_ID: [u8; 4] = *b"phcs";

/// `system_chainType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainType {
    Development,
    Local,
    Live,
}

/// One genesis validator: bonded and standing for election from block 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidatorSpec {
    /// The validator's account (SS58).
    pub account: String,
    /// Its ed25519 consensus public key, 0x-prefixed hex.
    pub consensus_key: String,
    /// Where its peers reach it: `host:port`.
    pub p2p_address: String,
    /// Bonded PHA, in planck (a decimal string).
    pub bond: String,
}

fn default_epoch_length() -> u32 {
    600
}
fn default_committee_size() -> u32 {
    4
}
fn default_unbonding_period() -> u32 {
    14_400
}
fn default_slash_percent() -> u8 {
    10
}
fn default_min_bond() -> String {
    (1_000 * PHA).to_string()
}

/// A chain specification file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainSpec {
    pub name: String,
    pub id: String,
    pub chain_type: ChainType,
    /// Target time between blocks, in milliseconds.
    pub block_time_ms: u64,
    /// Blocks per epoch; the committee can change only between epochs.
    #[serde(default = "default_epoch_length")]
    pub epoch_length: u32,
    /// Validators per committee: the top bonded candidates are elected.
    #[serde(default = "default_committee_size")]
    pub committee_size: u32,
    /// Blocks unbonded PHA stays locked (and slashable).
    #[serde(default = "default_unbonding_period")]
    pub unbonding_period: u32,
    /// Share of the bond an equivocation costs, in percent.
    #[serde(default = "default_slash_percent")]
    pub slash_percent: u8,
    /// Smallest bond a candidate may have, in planck.
    #[serde(default = "default_min_bond")]
    pub min_bond: String,
    /// Initial balances: `[SS58 address, amount in planck as a decimal string]`.
    pub balances: Vec<(String, String)>,
    pub validators: Vec<ValidatorSpec>,
    /// The account that may make root calls through `Sudo` until governance exists (SS58).
    /// Development chains only: a live chain refuses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<String>,
    /// What workers may register with.
    #[serde(default)]
    pub registry: RegistrySpec,
    /// The computation economics and stake pools (classic Phala's when left out).
    #[serde(default)]
    pub computation: crate::spec_computation::ComputationSpec,
    /// Referendum tracks, deposits and periods. Left out: seconds on development and
    /// local chains, days on live ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<crate::spec_governance::GovernanceSpec>,
    /// The runtime version the chain started with (left out: this build's). Written into
    /// every new spec, so later releases rebuild the same genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_spec_version: Option<u32>,
}

/// The worker registry's genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrySpec {
    /// Accept workers on a simulated TEE. Development chains only: a live chain refuses it.
    #[serde(default)]
    pub allow_simulated_tee: bool,
    /// Allowed worker measurements, 0x-prefixed hex.
    #[serde(default)]
    pub measurements: Vec<String>,
    /// Intel advisories that keep a ConfigurationNeeded platform at confidence level 3.
    #[serde(default = "default_advisory_whitelist")]
    pub advisory_whitelist: Vec<String>,
    /// Development chains: workers operated by these accounts (SS58) become gatekeepers as
    /// soon as they register, without a root call. A live chain refuses it.
    #[serde(default)]
    pub gatekeeper_operators: Vec<String>,
    /// Blocks an attestation stays valid; workers re-attest before it runs out.
    #[serde(default = "default_attestation_validity")]
    pub attestation_validity: u32,
    /// The worst confidence level (1 best … 5) a gatekeeper may have.
    #[serde(default = "default_gatekeeper_max_level")]
    pub gatekeeper_max_confidence_level: u8,
    /// The worst confidence level a cluster member may have.
    #[serde(default = "default_cluster_max_level")]
    pub cluster_max_confidence_level: u8,
    /// Accept OutOfDate platforms (confidence level 5) at all.
    #[serde(default)]
    pub allow_out_of_date: bool,
}

fn default_attestation_validity() -> u32 {
    phala_runtime::modules::registry::RegistryParams::default().attestation_validity
}

fn default_gatekeeper_max_level() -> u8 {
    phala_runtime::modules::registry::RegistryParams::default().gatekeeper_max_level
}

fn default_cluster_max_level() -> u8 {
    phala_runtime::modules::registry::RegistryParams::default().cluster_max_level
}

fn default_advisory_whitelist() -> Vec<String> {
    phala_runtime::genesis::RegistryGenesis::default().advisory_whitelist
}

impl Default for RegistrySpec {
    fn default() -> Self {
        RegistrySpec {
            allow_simulated_tee: false,
            measurements: Vec::new(),
            advisory_whitelist: default_advisory_whitelist(),
            gatekeeper_operators: Vec::new(),
            attestation_validity: default_attestation_validity(),
            gatekeeper_max_confidence_level: default_gatekeeper_max_level(),
            cluster_max_confidence_level: default_cluster_max_level(),
            allow_out_of_date: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read chain spec {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("chain spec {path} is not valid: {cause}")]
    Parse {
        path: String,
        cause: serde_json::Error,
    },
    #[error("chain spec: {0}")]
    Invalid(String),
    #[error(transparent)]
    Genesis(#[from] phala_runtime::genesis::GenesisError),
}

/// A genesis validator as the node uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub account: AccountId32,
    pub consensus_key: [u8; 32],
    pub p2p_address: String,
    pub bond: Balance,
}

fn planck(what: &str, value: &str) -> Result<Balance, SpecError> {
    value.parse().map_err(|_| {
        SpecError::Invalid(format!("{what} {value:?} is not a whole number of planck"))
    })
}

impl ChainSpec {
    fn registry_params(&self) -> phala_runtime::modules::registry::RegistryParams {
        phala_runtime::modules::registry::RegistryParams {
            attestation_validity: self.registry.attestation_validity,
            gatekeeper_max_level: self.registry.gatekeeper_max_confidence_level,
            cluster_max_level: self.registry.cluster_max_confidence_level,
            allow_out_of_date: self.registry.allow_out_of_date,
        }
    }

    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| SpecError::Read {
            path: display.clone(),
            cause,
        })?;
        let spec: ChainSpec = serde_json::from_str(&text).map_err(|cause| SpecError::Parse {
            path: display,
            cause,
        })?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks everything a node needs before it starts.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.block_time_ms < 100 || self.block_time_ms > 60_000 {
            return Err(SpecError::Invalid(format!(
                "blockTimeMs {} is outside 100..=60000",
                self.block_time_ms
            )));
        }
        if !(MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&self.epoch_length) {
            return Err(SpecError::Invalid(format!(
                "epochLength must be {MIN_EPOCH_LENGTH} to {MAX_EPOCH_LENGTH} blocks"
            )));
        }
        if self.committee_size == 0
            || self.committee_size > phala_primitives::consensus::MAX_COMMITTEE_SIZE
        {
            return Err(SpecError::Invalid(format!(
                "committeeSize must be 1 to {}",
                phala_primitives::consensus::MAX_COMMITTEE_SIZE
            )));
        }
        if self.slash_percent > 100 {
            return Err(SpecError::Invalid(
                "slashPercent must be at most 100".into(),
            ));
        }
        if self.validators.is_empty() {
            return Err(SpecError::Invalid(
                "at least one validator is required".into(),
            ));
        }
        if self.chain_type == ChainType::Live && self.registry.allow_simulated_tee {
            return Err(SpecError::Invalid(
                "a live chain cannot allow simulated TEEs (registry.allowSimulatedTee)".into(),
            ));
        }
        if self.chain_type == ChainType::Live && !self.registry.gatekeeper_operators.is_empty() {
            return Err(SpecError::Invalid(
                "a live chain makes gatekeepers by governance, not by operator \
                 (registry.gatekeeperOperators)"
                    .into(),
            ));
        }
        if self.chain_type == ChainType::Live && self.sudo.is_some() {
            return Err(SpecError::Invalid(
                "a live chain cannot have a sudo key".into(),
            ));
        }
        if self.chain_type == ChainType::Live
            && let Some(v) = self
                .validators
                .iter()
                .find(|v| crate::dev::is_dev_key(&v.account, &v.consensus_key))
        {
            return Err(SpecError::Invalid(format!(
                "validator {} (consensus key {}) uses a development key (//Alice…, known to \
                 everyone) as its stash or consensus key: a live chain needs real keys \
                 (`phala key generate`, `phala key generate --scheme ed25519`)",
                v.account, v.consensus_key
            )));
        }
        // Evidence of an equivocation can arrive while the offender's epoch's committee is
        // on record; its bond must still be locked then, or it escapes the slash.
        let evidence_window = u64::from(self.epoch_length)
            .saturating_mul(phala_runtime::modules::validators::COMMITTEE_HISTORY);
        if self.chain_type == ChainType::Live && u64::from(self.unbonding_period) < evidence_window
        {
            return Err(SpecError::Invalid(format!(
                "unbondingPeriod must be at least {evidence_window} blocks on a live chain \
                 ({} epochs of {} blocks, during which equivocation evidence is accepted)",
                phala_runtime::modules::validators::COMMITTEE_HISTORY,
                self.epoch_length
            )));
        }
        if self.registry_params().check().is_err() {
            return Err(SpecError::Invalid(format!(
                "registry.attestationValidity must be at least {} blocks and the confidence \
                 levels 1 to 5",
                phala_runtime::modules::registry::MIN_ATTESTATION_VALIDITY
            )));
        }
        let min_bond = planck("minBond", &self.min_bond)?;
        for v in self.validators()? {
            if v.bond < min_bond {
                return Err(SpecError::Invalid(format!(
                    "validator {} bonds less than minBond",
                    v.account
                )));
            }
        }
        self.genesis_storage()?;
        Ok(())
    }

    pub fn validators(&self) -> Result<Vec<Validator>, SpecError> {
        self.validators
            .iter()
            .map(|v| {
                let account = v.account.parse().map_err(|e| {
                    SpecError::Invalid(format!("validator account {:?}: {e}", v.account))
                })?;
                let key = phala_primitives::crypto::decode_hex(&v.consensus_key)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        SpecError::Invalid(format!(
                            "consensus key {:?} is not 32 bytes of hex",
                            v.consensus_key
                        ))
                    })?;
                Ok(Validator {
                    account,
                    consensus_key: key,
                    p2p_address: v.p2p_address.clone(),
                    bond: planck("bond", &v.bond)?,
                })
            })
            .collect()
    }

    pub fn params(&self) -> Result<Params, SpecError> {
        Ok(Params {
            epoch_length: self.epoch_length,
            committee_size: self.committee_size,
            unbonding_period: self.unbonding_period,
            slash_percent: self.slash_percent,
            min_bond: planck("minBond", &self.min_bond)?,
        })
    }

    pub fn genesis_config(&self) -> Result<GenesisConfig, SpecError> {
        let endowed = self
            .balances
            .iter()
            .map(|(who, amount)| {
                let account: AccountId32 = who
                    .parse()
                    .map_err(|e| SpecError::Invalid(format!("balance account {who:?}: {e}")))?;
                Ok((account, planck("balance", amount)?))
            })
            .collect::<Result<_, SpecError>>()?;
        let validators = self
            .validators()?
            .into_iter()
            .map(|v| {
                (
                    v.account,
                    v.consensus_key,
                    v.p2p_address.into_bytes(),
                    v.bond,
                )
            })
            .collect();
        let sudo_key = self
            .sudo
            .as_ref()
            .map(|s| {
                s.parse::<AccountId32>()
                    .map_err(|e| SpecError::Invalid(format!("sudo account {s:?}: {e}")))
            })
            .transpose()?;
        let measurements = self
            .registry
            .measurements
            .iter()
            .map(|m| {
                phala_primitives::crypto::decode_hex(m).map_err(|_| {
                    SpecError::Invalid(format!("measurement {m:?} is not 0x-prefixed hex"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(GenesisConfig {
            endowed,
            validators: ValidatorsGenesis {
                params: self.params()?,
                validators,
            },
            registry: RegistryGenesis {
                allow_simulated_tee: self.registry.allow_simulated_tee,
                measurements,
                advisory_whitelist: self.registry.advisory_whitelist.clone(),
                gatekeeper_operators: self
                    .registry
                    .gatekeeper_operators
                    .iter()
                    .map(|a| {
                        a.parse::<AccountId32>().map_err(|e| {
                            SpecError::Invalid(format!("gatekeeper operator {a:?}: {e}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                params: self.registry_params(),
            },
            computation: phala_runtime::genesis::ComputationGenesis {
                params: self.computation.params(self.block_time_ms)?,
                double_sign_slash: self.computation.double_sign_slash()?,
            },
            stake_pools: self.computation.stake_pools(self.block_time_ms),
            sudo_key,
            governance: self.governance_params()?,
            treasury: self.treasury_params()?,
            spec_version: self.genesis_spec_version,
        })
    }

    /// The governance rules of this chain: its own section, or the defaults for its type.
    pub fn governance_params(
        &self,
    ) -> Result<phala_runtime::modules::referenda::GovernanceParams, SpecError> {
        use phala_runtime::modules::referenda::GovernanceParams;
        match &self.governance {
            Some(section) => section.params(self.block_time_ms),
            None if self.chain_type == ChainType::Live => {
                Ok(GovernanceParams::live(self.block_time_ms))
            }
            None => Ok(GovernanceParams::development(self.block_time_ms)),
        }
    }

    /// The treasury's rules: the governance section's, or the defaults for the chain's type.
    pub fn treasury_params(&self) -> Result<phala_runtime::modules::treasury::Params, SpecError> {
        use phala_runtime::modules::treasury::Params;
        match self.governance.as_ref().and_then(|g| g.treasury.as_ref()) {
            Some(section) => section.params(self.block_time_ms),
            None if self.chain_type == ChainType::Live => Ok(Params::live(self.block_time_ms)),
            None => Ok(Params::development(self.block_time_ms)),
        }
    }

    /// The genesis state.
    pub fn genesis_storage(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, SpecError> {
        Ok(self.genesis_config()?.build_storage()?)
    }

    /// The genesis block for the genesis state `storage` whose root is `state_root`: its
    /// digest carries the timing and the epoch-0 committee the runtime elected.
    pub fn genesis_block(
        &self,
        storage: &BTreeMap<Vec<u8>, Vec<u8>>,
        state_root: H256,
    ) -> Result<Block, SpecError> {
        let committee = validators::committee(&Ext::new(storage), 0)
            .ok_or_else(|| SpecError::Invalid("the genesis state has no committee".into()))?;
        let change = CommitteeChange {
            epoch: 0,
            keys: committee.iter().map(|m| m.consensus_key).collect(),
        };
        Ok(Block {
            header: Header {
                parent_hash: H256::zero(),
                number: 0,
                state_root,
                extrinsics_root: extrinsics_root(&[]),
                digest: vec![
                    DigestItem::Consensus(
                        GENESIS_ENGINE_ID,
                        (self.block_time_ms, self.epoch_length).encode(),
                    ),
                    change.digest_item(),
                ],
            },
            extrinsics: vec![],
        })
    }

    /// `system_properties`.
    pub fn properties(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut properties = serde_json::Map::new();
        properties.insert("ss58Format".into(), phala_primitives::SS58_PREFIX.into());
        properties.insert("tokenDecimals".into(), phala_primitives::DECIMALS.into());
        properties.insert("tokenSymbol".into(), phala_primitives::TOKEN_SYMBOL.into());
        properties
    }
}
