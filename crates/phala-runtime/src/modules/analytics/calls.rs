use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber, H256};
use scale_info::TypeInfo;

use super::{
    ANALYSTS, AnalyticsCommand, AnalyticsMessage, Error, Event, FREE_WITHDRAWALS, LAST_WITHDRAWAL,
    LastWithdrawal, MAX_COHORT, MAX_DAILY_BUDGET_MILLI, MAX_DOMAIN_LEN, MAX_EPSILON_MILLI,
    MAX_FREE_WITHDRAWALS, MAX_RETENTION_DAYS, MIN_COHORT_FLOOR, MIN_PREPAY, MODULE, NEXT_SITE_ID,
    RECEIPT_DOMAIN, SITES, SiteConfig, SiteInfo, VisitorKey, WITHDRAWAL_DOMAIN,
    WITHDRAWAL_INTERVAL, WITHDRAWAL_VALIDITY, purpose, site_account,
};
use crate::Ext;
use crate::dispatch::{DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::{balances, contracts, message_queue, system, weights};

/// Calls of the `Analytics` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Register a site whose data `cluster`'s workers hold, prepaying `prepay` (at least
    /// 1 PHA) into the site's account for its ingestion and storage.
    #[codec(index = 0)]
    register_site {
        domain: Vec<u8>,
        cluster: H256,
        config: SiteConfig,
        #[codec(compact)]
        prepay: Balance,
    },
    /// Change a site's configuration (its owner).
    #[codec(index = 1)]
    update_site { site: u64, config: SiteConfig },
    /// Prepay more for a site (anyone).
    #[codec(index = 2)]
    top_up {
        site: u64,
        #[codec(compact)]
        amount: Balance,
    },
    /// Close a site (its owner): the rest of its prepayment comes back, and its cluster
    /// erases everything held about it.
    #[codec(index = 3)]
    close_site { site: u64 },
    /// Let `analyst` run the analyses in `purposes` on a site (its owner); none removes.
    #[codec(index = 4)]
    set_analyst {
        site: u64,
        analyst: AccountId32,
        purposes: u32,
    },
    /// A visitor's withdrawal of consent for a site, signed by the visitor's key over
    /// [`withdrawal_payload`]. Anyone may submit it: signed, its sender pays the fee;
    /// unsigned it is free (within the block's quota) and must carry `receipt`, the site
    /// cluster's signature of [`receipt_payload`] that the visitor got with the consent.
    #[codec(index = 5)]
    withdraw_consent {
        site: u64,
        visitor: VisitorKey,
        signed_at: BlockNumber,
        signature: [u8; 64],
        receipt: Option<[u8; 64]>,
    },
}

/// What the site's cluster signs (its sr25519 key) when it records a visitor's consent, for
/// the visitor to keep: `"phala/analytics/consent-receipt:" ‖ genesis hash ‖ SCALE(site) ‖
/// SCALE(visitor)`. It lets the visitor withdraw for free later.
pub fn receipt_payload(genesis: &H256, site: u64, visitor: &VisitorKey) -> Vec<u8> {
    let mut payload = RECEIPT_DOMAIN.to_vec();
    payload.extend_from_slice(genesis.as_bytes());
    (site, visitor).encode_to(&mut payload);
    payload
}

/// What a visitor's key signs to withdraw consent: `"phala/analytics/withdraw:" ‖ genesis
/// hash ‖ SCALE(site) ‖ SCALE(visitor) ‖ SCALE(signed_at)`. Bound to one chain and site;
/// `signed_at` orders a visitor's statements so an old one cannot be replayed.
pub fn withdrawal_payload(
    genesis: &H256,
    site: u64,
    visitor: &VisitorKey,
    signed_at: BlockNumber,
) -> Vec<u8> {
    let mut payload = WITHDRAWAL_DOMAIN.to_vec();
    payload.extend_from_slice(genesis.as_bytes());
    (site, visitor, signed_at).encode_to(&mut payload);
    payload
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::register_site { .. } => weights::reads_writes(6, 6),
            Call::update_site { .. } | Call::set_analyst { .. } => weights::reads_writes(2, 3),
            Call::top_up { .. } => weights::reads_writes(3, 2),
            Call::close_site { .. } => weights::reads_writes(4, 4),
            // Up to four signature checks (a free one's statement and receipt, in the pool
            // and in the block) and the rate limits.
            Call::withdraw_consent { .. } => {
                return DispatchInfo {
                    weight: weights::add(
                        weights::reads_writes(6, 4),
                        weights::compute(400_000_000),
                    ),
                    pays_fee: Pays::Yes,
                    ..Default::default()
                };
            }
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::register_site {
                domain,
                cluster,
                config,
                prepay,
            } => {
                let owner = origin.ensure_signed()?;
                register_site(ext, owner, domain, cluster, config, prepay)
            }
            Call::update_site { site, config } => {
                let who = origin.ensure_signed()?;
                let mut info = owned(ext, site, &who)?;
                check_config(&config)?;
                info.config = config;
                SITES.insert(ext, &site, &info);
                configured(ext, site, &info)?;
                ext.deposit_event(Event::SiteUpdated { site });
                Ok(())
            }
            Call::top_up { site, amount } => {
                let who = origin.ensure_signed()?;
                if !SITES.contains(ext, &site) {
                    return Err(Error::UnknownSite.into());
                }
                balances::transfer(ext, &who, &site_account(site), amount, true)?;
                ext.deposit_event(Event::SiteToppedUp { site, amount });
                Ok(())
            }
            Call::close_site { site } => {
                let who = origin.ensure_signed()?;
                let info = owned(ext, site, &who)?;
                let account = site_account(site);
                let refunded = balances::free_balance(ext, &account);
                // Allowed to die: the site's account is emptied for good.
                balances::transfer(ext, &account, &info.owner, refunded, false)?;
                SITES.remove(ext, &site);
                push(ext, info.cluster, AnalyticsCommand::SiteClosed { site })?;
                ext.deposit_event(Event::SiteClosed { site, refunded });
                Ok(())
            }
            Call::set_analyst {
                site,
                analyst,
                purposes,
            } => {
                let who = origin.ensure_signed()?;
                let info = owned(ext, site, &who)?;
                if analyst == info.owner {
                    return Err(Error::OwnerIsAnalyst.into());
                }
                if purposes & !purpose::ALL != 0 {
                    return Err(Error::BadPurposes.into());
                }
                if purposes == 0 {
                    ANALYSTS.remove(ext, &site, &analyst);
                } else {
                    ANALYSTS.insert(ext, &site, &analyst, &purposes);
                }
                push(
                    ext,
                    info.cluster,
                    AnalyticsCommand::AnalystSet {
                        site,
                        analyst,
                        purposes,
                    },
                )?;
                ext.deposit_event(Event::AnalystSet {
                    site,
                    analyst,
                    purposes,
                });
                Ok(())
            }
            Call::withdraw_consent {
                site,
                visitor,
                signed_at,
                signature,
                receipt,
            } => {
                let free = match origin {
                    Origin::None => true,
                    origin => {
                        origin.ensure_signed()?;
                        false
                    }
                };
                check_withdrawal(ext, site, &visitor, signed_at, &signature)?;
                if free {
                    check_receipt(ext, site, &visitor, &receipt.ok_or(Error::BadReceipt)?)?;
                    take_free_withdrawal(ext)?;
                }
                let at = system::block_number(ext);
                LAST_WITHDRAWAL.insert(
                    ext,
                    &site,
                    &visitor,
                    &LastWithdrawal {
                        signed_at,
                        included_at: at,
                    },
                );
                let cluster = SITES.get(ext, &site).ok_or(Error::UnknownSite)?.cluster;
                // In the room kept for the chain's own messages: a flood of bulk messages
                // must not keep a withdrawal from its cluster.
                message_queue::push(
                    ext,
                    MODULE,
                    phala_mq::analytics::ANALYTICS_COMMAND,
                    &AnalyticsMessage {
                        cluster,
                        command: AnalyticsCommand::ConsentWithdrawn {
                            site,
                            visitor,
                            signed_at,
                            at,
                        },
                    },
                )?;
                ext.deposit_event(Event::ConsentWithdrawn { site, visitor });
                Ok(())
            }
        }
    }
}

/// Checks a withdrawal without writing anything: the transaction pool runs it too.
pub(crate) fn check_withdrawal(
    ext: &Ext,
    site: u64,
    visitor: &VisitorKey,
    signed_at: BlockNumber,
    signature: &[u8; 64],
) -> Result<(), Error> {
    if !SITES.contains(ext, &site) {
        return Err(Error::UnknownSite);
    }
    let now = system::block_number(ext);
    if signed_at > now || now.saturating_sub(signed_at) > WITHDRAWAL_VALIDITY {
        return Err(Error::StaleWithdrawal);
    }
    if let Some(last) = LAST_WITHDRAWAL.get(ext, &site, visitor) {
        if signed_at <= last.signed_at {
            return Err(Error::StaleWithdrawal);
        }
        if now < last.included_at.saturating_add(WITHDRAWAL_INTERVAL) {
            return Err(Error::TooSoon);
        }
    }
    let genesis = system::block_hash(ext, 0).unwrap_or_default();
    let payload = withdrawal_payload(&genesis, site, visitor, signed_at);
    let valid = match visitor {
        VisitorKey::Ed25519(key) => {
            phala_primitives::crypto::ed25519_verify(signature, &payload, key)
        }
        VisitorKey::Sr25519(key) => {
            phala_primitives::crypto::sr25519_verify(signature, &payload, key)
        }
    };
    if valid {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// Checks the site cluster's receipt for a visitor's consent.
pub(crate) fn check_receipt(
    ext: &Ext,
    site: u64,
    visitor: &VisitorKey,
    receipt: &[u8; 64],
) -> Result<(), Error> {
    let cluster = SITES.get(ext, &site).ok_or(Error::UnknownSite)?.cluster;
    let key = contracts::CLUSTERS
        .get(ext, &cluster)
        .and_then(|c| c.pubkey)
        .ok_or(Error::UnknownCluster)?;
    let genesis = system::block_hash(ext, 0).unwrap_or_default();
    let payload = receipt_payload(&genesis, site, visitor);
    if phala_primitives::crypto::sr25519_verify(receipt, &payload, &key) {
        Ok(())
    } else {
        Err(Error::BadReceipt)
    }
}

/// Whether this block still takes a free withdrawal (read-only, for the pool).
pub(crate) fn free_withdrawal_room(ext: &Ext) -> bool {
    let now = system::block_number(ext);
    match FREE_WITHDRAWALS.get(ext) {
        Some((block, taken)) if block == now => taken < MAX_FREE_WITHDRAWALS,
        _ => true,
    }
}

fn take_free_withdrawal(ext: &mut Ext) -> DispatchResult {
    let now = system::block_number(ext);
    let taken = match FREE_WITHDRAWALS.get(ext) {
        Some((block, taken)) if block == now => taken,
        _ => 0,
    };
    if taken >= MAX_FREE_WITHDRAWALS {
        return Err(Error::FreeWithdrawalsExhausted.into());
    }
    FREE_WITHDRAWALS.put(ext, &(now, taken.saturating_add(1)));
    Ok(())
}

fn register_site(
    ext: &mut Ext,
    owner: AccountId32,
    domain: Vec<u8>,
    cluster: H256,
    config: SiteConfig,
    prepay: Balance,
) -> DispatchResult {
    if !valid_domain(&domain) {
        return Err(Error::BadDomain.into());
    }
    check_config(&config)?;
    if contracts::CLUSTERS
        .get(ext, &cluster)
        .is_none_or(|c| c.ecdh_pubkey.is_none())
    {
        return Err(Error::UnknownCluster.into());
    }
    if prepay < MIN_PREPAY {
        return Err(Error::PrepayTooLow.into());
    }
    let site = NEXT_SITE_ID.get_or_default(ext);
    let next = site.checked_add(1).ok_or(Error::TooManySites)?;
    balances::transfer(ext, &owner, &site_account(site), prepay, true)?;
    NEXT_SITE_ID.put(ext, &next);
    let info = SiteInfo {
        owner,
        domain,
        cluster,
        config,
        registered_at: system::block_number(ext),
    };
    SITES.insert(ext, &site, &info);
    configured(ext, site, &info)?;
    ext.deposit_event(Event::SiteRegistered {
        site,
        owner,
        cluster,
        prepaid: prepay,
    });
    Ok(())
}

/// Lower-case letters, digits, `-` and `.`, 1 to 253 of them, no empty label.
pub fn valid_domain(domain: &[u8]) -> bool {
    !domain.is_empty()
        && domain.len() <= MAX_DOMAIN_LEN
        && domain
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && domain.split(|c| *c == b'.').all(|label| !label.is_empty())
}

/// Checks a site's configuration as `register_site` and `update_site` do.
pub fn check_config(config: &SiteConfig) -> Result<(), Error> {
    if config.retention_days == 0 || config.retention_days > MAX_RETENTION_DAYS {
        return Err(Error::BadRetention);
    }
    if config.purposes == 0 || config.purposes & !purpose::ALL != 0 {
        return Err(Error::BadPurposes);
    }
    if !(MIN_COHORT_FLOOR..=MAX_COHORT).contains(&config.min_cohort) {
        return Err(Error::BadCohort);
    }
    if let Some(dp) = config.dp
        && (dp.epsilon_milli == 0
            || dp.epsilon_milli > MAX_EPSILON_MILLI
            || dp.daily_budget_milli < dp.epsilon_milli
            || dp.daily_budget_milli > MAX_DAILY_BUDGET_MILLI)
    {
        return Err(Error::BadPrivacy);
    }
    Ok(())
}

fn owned(ext: &Ext, site: u64, who: &AccountId32) -> Result<SiteInfo, Error> {
    let info = SITES.get(ext, &site).ok_or(Error::UnknownSite)?;
    if info.owner != *who {
        return Err(Error::NotOwner);
    }
    Ok(info)
}

/// Tells the site's cluster its configuration.
fn configured(ext: &mut Ext, site: u64, info: &SiteInfo) -> DispatchResult {
    push(
        ext,
        info.cluster,
        AnalyticsCommand::SiteConfigured {
            site,
            owner: info.owner,
            domain: info.domain.clone(),
            config: info.config,
        },
    )
}

fn push(ext: &mut Ext, cluster: H256, command: AnalyticsCommand) -> DispatchResult {
    message_queue::push_bulk(
        ext,
        MODULE,
        phala_mq::analytics::ANALYTICS_COMMAND,
        &AnalyticsMessage { cluster, command },
    )
}
