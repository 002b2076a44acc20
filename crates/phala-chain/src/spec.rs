//! Chain specifications: everything that defines a chain and its genesis, as a JSON file.
//!
//! The genesis block commits to the whole spec that matters for consensus and state (balances,
//! validators, block time), so two nodes agree on the genesis hash exactly when they run the
//! same chain.

use std::net::SocketAddr;
use std::path::Path;

use parity_scale_codec::Encode;
use phala_primitives::{
    AccountId32, Balance, Block, DigestItem, H256, Header, block::extrinsics_root,
};
use phala_runtime::GenesisConfig;
use serde::{Deserialize, Serialize};

/// Engine id of the genesis digest entry that commits to the consensus configuration.
pub const GENESIS_ENGINE_ID: [u8; 4] = *b"phcs";

/// `system_chainType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainType {
    Development,
    Local,
    Live,
}

/// One genesis validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidatorSpec {
    /// The validator's account (SS58).
    pub account: String,
    /// Its ed25519 consensus public key, 0x-prefixed hex.
    pub consensus_key: String,
    /// Where its peers reach it.
    pub p2p_address: SocketAddr,
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
    /// Initial balances: `[SS58 address, amount in planck as a decimal string]`.
    pub balances: Vec<(String, String)>,
    pub validators: Vec<ValidatorSpec>,
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

/// A validator as the node uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub account: AccountId32,
    pub consensus_key: [u8; 32],
    pub p2p_address: SocketAddr,
}

impl ChainSpec {
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
        if self.validators.is_empty() {
            return Err(SpecError::Invalid(
                "at least one validator is required".into(),
            ));
        }
        let validators = self.validators()?;
        let mut keys: Vec<_> = validators.iter().map(|v| v.consensus_key).collect();
        keys.sort();
        keys.dedup();
        if keys.len() != validators.len() {
            return Err(SpecError::Invalid(
                "two validators share a consensus key".into(),
            ));
        }
        self.genesis_config()?.build_storage()?;
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
                    p2p_address: v.p2p_address,
                })
            })
            .collect()
    }

    pub fn genesis_config(&self) -> Result<GenesisConfig, SpecError> {
        let endowed = self
            .balances
            .iter()
            .map(|(who, amount)| {
                let account: AccountId32 = who
                    .parse()
                    .map_err(|e| SpecError::Invalid(format!("balance account {who:?}: {e}")))?;
                let amount: Balance = amount.parse().map_err(|_| {
                    SpecError::Invalid(format!(
                        "balance {amount:?} is not a whole number of planck"
                    ))
                })?;
                Ok((account, amount))
            })
            .collect::<Result<_, SpecError>>()?;
        Ok(GenesisConfig { endowed })
    }

    /// The consensus facts the genesis header commits to: block time and validator keys.
    fn genesis_digest(&self) -> Result<DigestItem, SpecError> {
        let keys: Vec<[u8; 32]> = self.validators()?.iter().map(|v| v.consensus_key).collect();
        Ok(DigestItem::Consensus(
            GENESIS_ENGINE_ID,
            (self.block_time_ms, keys).encode(),
        ))
    }

    /// The genesis block for a given genesis state root.
    pub fn genesis_block(&self, state_root: H256) -> Result<Block, SpecError> {
        Ok(Block {
            header: Header {
                parent_hash: H256::zero(),
                number: 0,
                state_root,
                extrinsics_root: extrinsics_root(&[]),
                digest: vec![self.genesis_digest()?],
            },
            extrinsics: vec![],
        })
    }

    /// `system_properties`.
    pub fn properties(&self) -> serde_json::Value {
        serde_json::json!({
            "ss58Format": phala_primitives::SS58_PREFIX,
            "tokenDecimals": phala_primitives::DECIMALS,
            "tokenSymbol": phala_primitives::TOKEN_SYMBOL,
        })
    }
}
