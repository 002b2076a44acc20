//! Development chain specs: well-known accounts, funded, with well-known validator keys.

use phala_primitives::{AccountId32, PHA};

use crate::spec::{ChainSpec, ChainType, ValidatorSpec};

/// The dev accounts every Substrate tool knows.
pub const DEV_ACCOUNTS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// Default block time of development chains.
pub const DEV_BLOCK_TIME_MS: u64 = 1_000;

/// A validator as a dev spec is built from: its account and consensus public keys.
#[derive(Clone, Debug)]
pub struct DevValidator {
    pub account: AccountId32,
    pub consensus_key: [u8; 32],
    pub p2p_address: std::net::SocketAddr,
}

/// A development spec: the dev accounts hold 10,000,000 PHA each, the computation reward
/// pool holds 700,000,000 PHA (70 % of the supply, as on Phala), the treasury 1,000 PHA.
pub fn dev_spec(
    name: &str,
    id: &str,
    chain_type: ChainType,
    accounts: &[AccountId32],
    validators: &[DevValidator],
) -> ChainSpec {
    let mut balances: Vec<(String, String)> = accounts
        .iter()
        .map(|a| (a.to_ss58(), (10_000_000 * PHA).to_string()))
        .collect();
    balances.push((
        phala_runtime::modules::REWARD_POOL_ACCOUNT.to_ss58(),
        (700_000_000 * PHA).to_string(),
    ));
    balances.push((
        phala_runtime::modules::TREASURY_ACCOUNT.to_ss58(),
        (1_000 * PHA).to_string(),
    ));
    ChainSpec {
        name: name.into(),
        id: id.into(),
        chain_type,
        block_time_ms: DEV_BLOCK_TIME_MS,
        balances,
        validators: validators
            .iter()
            .map(|v| ValidatorSpec {
                account: v.account.to_ss58(),
                consensus_key: format!("0x{}", hex::encode(v.consensus_key)),
                p2p_address: v.p2p_address,
            })
            .collect(),
    }
}
