//! Development and local-testnet chain specs: the well-known dev accounts, funded, with
//! validators whose consensus keys derive from the same secret URIs (`//Alice`, `//Bob`, …).

use std::net::{Ipv4Addr, SocketAddr};

use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_primitives::PHA;

use crate::spec::{ChainSpec, ChainType, RegistrySpec, SpecError, ValidatorSpec};

/// The dev accounts every Substrate tool knows.
pub const DEV_ACCOUNTS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// Default block time of development chains.
pub const DEV_BLOCK_TIME_MS: u64 = 1_000;

/// Bond of each local-testnet validator.
pub const DEV_BOND: u128 = 100_000 * PHA;

/// Whether `account` (SS58) or `consensus_key` (0x-hex) is one of the well-known development
/// keys (`//Alice`…`//Ferdie`, their stashes): anyone can sign with those, so a live chain
/// must never trust them.
pub fn is_dev_key(account: &str, consensus_key: &str) -> bool {
    DEV_ACCOUNTS.iter().any(|name| {
        let uri = format!("//{name}");
        let sr = [uri.clone(), format!("{uri}//stash")]
            .iter()
            .filter_map(|u| Sr25519Pair::from_uri(u).ok())
            .any(|p| p.account_id().to_ss58() == account);
        let ed = Ed25519Pair::from_uri(&uri).is_ok_and(|p| {
            consensus_key.eq_ignore_ascii_case(&format!("0x{}", hex::encode(p.public())))
        });
        sr || ed
    })
}

/// What a live (production) chain starts with, beyond the defaults: its validators, extra
/// balances and the measurements workers may run.
#[derive(Clone, Debug, Default)]
pub struct LiveSpec {
    pub name: String,
    pub id: String,
    pub block_time_ms: u64,
    /// `(stash account SS58, consensus key 0x-hex, p2p host:port)`.
    pub validators: Vec<(String, String, String)>,
    /// Each validator's bond, in planck.
    pub bond: u128,
    /// `(account SS58, planck)`, added to the validators' endowments.
    pub balances: Vec<(String, u128)>,
    /// Allowed worker measurements, 0x-hex.
    pub measurements: Vec<String>,
}

/// Fees each live validator is endowed with beyond its bond.
pub const VALIDATOR_FEE_ALLOWANCE: u128 = 10 * PHA;

/// A spec fit for real hosts: no simulated TEEs, no sudo, no gatekeeper operator list, and
/// no development key anywhere among the validators. The computation reward pool and the
/// treasury are endowed as on a local testnet; each validator with its bond and
/// [`VALIDATOR_FEE_ALLOWANCE`].
pub fn live_spec(live: LiveSpec) -> Result<ChainSpec, SpecError> {
    if live.validators.is_empty() {
        return Err(SpecError::Invalid(
            "a live chain needs at least one validator".into(),
        ));
    }
    let mut balances: Vec<(String, u128)> = vec![
        (
            phala_runtime::modules::REWARD_POOL_ACCOUNT.to_ss58(),
            700_000_000 * PHA,
        ),
        (
            phala_runtime::modules::TREASURY_ACCOUNT.to_ss58(),
            1_000 * PHA,
        ),
    ];
    let mut add = |account: &str, amount: u128| -> Result<(), SpecError> {
        match balances.iter_mut().find(|(a, _)| a == account) {
            Some((_, total)) => {
                *total = total.checked_add(amount).ok_or_else(|| {
                    SpecError::Invalid(format!("the balance of {account} overflows"))
                })?
            }
            None => balances.push((account.to_string(), amount)),
        }
        Ok(())
    };
    let mut validators = Vec::new();
    for (account, consensus_key, p2p_address) in &live.validators {
        let endowment = live
            .bond
            .checked_add(VALIDATOR_FEE_ALLOWANCE)
            .ok_or_else(|| SpecError::Invalid("the bond is too large".into()))?;
        add(account, endowment)?;
        validators.push(ValidatorSpec {
            account: account.clone(),
            consensus_key: consensus_key.clone(),
            p2p_address: p2p_address.clone(),
            bond: live.bond.to_string(),
        });
    }
    for (account, amount) in &live.balances {
        add(account, *amount)?;
    }
    let spec = ChainSpec {
        name: live.name,
        id: live.id,
        chain_type: ChainType::Live,
        block_time_ms: live.block_time_ms,
        epoch_length: 600,
        committee_size: u32::try_from(validators.len()).unwrap_or(u32::MAX),
        // A week of 6-second blocks: longer than equivocation evidence is accepted for.
        unbonding_period: 100_800,
        slash_percent: 10,
        min_bond: (1_000 * PHA).to_string(),
        balances: balances
            .into_iter()
            .map(|(a, b)| (a, b.to_string()))
            .collect(),
        validators,
        sudo: None,
        registry: RegistrySpec {
            measurements: live.measurements,
            ..Default::default()
        },
        computation: Default::default(),
        governance: None,
        genesis_spec_version: Some(phala_runtime::version::SPEC_VERSION),
    };
    spec.validate()?;
    Ok(spec)
}

/// A local testnet: the dev accounts hold 10,000,000 PHA each, the computation reward pool
/// 700,000,000 PHA (70 % of the supply, as on Phala) and the treasury 1,000 PHA; the first
/// `validators` dev accounts bond 100,000 PHA and validate, listening on 127.0.0.1 at
/// `base_port`, `base_port + 1`, …, and all of them sit in the committee.
/// The account that operates (pays for) a dev validator's gatekeeper worker: its stash,
/// `//Name//stash`.
pub fn gatekeeper_operator(name: &str) -> Result<Sr25519Pair, SpecError> {
    Sr25519Pair::from_uri(&format!("//{name}//stash"))
        .map_err(|e| SpecError::Invalid(e.to_string()))
}

pub fn local_testnet(
    name: &str,
    id: &str,
    chain_type: ChainType,
    validators: usize,
    base_port: u16,
) -> Result<ChainSpec, SpecError> {
    let invalid = |e: phala_keys::KeyError| SpecError::Invalid(e.to_string());
    let mut balances = Vec::new();
    for name in DEV_ACCOUNTS {
        let account = Sr25519Pair::from_uri(&format!("//{name}"))
            .map_err(invalid)?
            .account_id();
        balances.push((account.to_ss58(), (10_000_000 * PHA).to_string()));
    }
    // Each validator's gatekeeper worker pays from the validator's stash (polkadot.js's
    // "Alice_stash"), so it never races the validator's own account for nonces.
    for name in DEV_ACCOUNTS {
        balances.push((
            gatekeeper_operator(name)?.account_id().to_ss58(),
            (1_000_000 * PHA).to_string(),
        ));
    }
    balances.push((
        phala_runtime::modules::REWARD_POOL_ACCOUNT.to_ss58(),
        (700_000_000 * PHA).to_string(),
    ));
    balances.push((
        phala_runtime::modules::TREASURY_ACCOUNT.to_ss58(),
        (1_000 * PHA).to_string(),
    ));
    if validators == 0 || validators > DEV_ACCOUNTS.len() {
        return Err(SpecError::Invalid(format!(
            "a local testnet has 1 to {} validators (//Alice..//Ferdie)",
            DEV_ACCOUNTS.len()
        )));
    }
    let validators = DEV_ACCOUNTS
        .iter()
        .take(validators)
        .enumerate()
        .map(|(i, name)| {
            let uri = format!("//{name}");
            let port = u16::try_from(i)
                .ok()
                .and_then(|i| base_port.checked_add(i))
                .ok_or_else(|| SpecError::Invalid("p2p port out of range".into()))?;
            Ok(ValidatorSpec {
                account: Sr25519Pair::from_uri(&uri)
                    .map_err(invalid)?
                    .account_id()
                    .to_ss58(),
                consensus_key: format!(
                    "0x{}",
                    hex::encode(Ed25519Pair::from_uri(&uri).map_err(invalid)?.public())
                ),
                p2p_address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string(),
                bond: DEV_BOND.to_string(),
            })
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    let dev = chain_type != ChainType::Live;
    let gatekeeper_operators = if dev {
        DEV_ACCOUNTS
            .iter()
            .take(validators.len())
            .map(|name| gatekeeper_operator(name).map(|p| p.account_id().to_ss58()))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let spec = ChainSpec {
        name: name.into(),
        id: id.into(),
        chain_type,
        block_time_ms: DEV_BLOCK_TIME_MS,
        epoch_length: 600,
        committee_size: u32::try_from(validators.len()).unwrap_or(u32::MAX),
        unbonding_period: 1_200,
        slash_percent: 10,
        min_bond: (1_000 * PHA).to_string(),
        balances,
        validators,
        // Development chains: Alice is root, and simulated workers may register.
        sudo: dev
            .then(|| Sr25519Pair::from_uri("//Alice").map(|p| p.account_id().to_ss58()))
            .transpose()
            .map_err(invalid)?,
        registry: RegistrySpec {
            allow_simulated_tee: dev,
            gatekeeper_operators,
            measurements: vec![format!(
                "0x{}",
                hex::encode(phala_runtime::genesis::DEV_WORKER_MEASUREMENT)
            )],
            ..Default::default()
        },
        computation: if dev {
            crate::spec_computation::ComputationSpec::dev()
        } else {
            Default::default()
        },
        governance: None,
        genesis_spec_version: Some(phala_runtime::version::SPEC_VERSION),
    };
    spec.validate()?;
    Ok(spec)
}
