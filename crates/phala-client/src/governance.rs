//! Reading governance: referenda and where they stand, the tracks, votes and locks, and
//! the treasury's spends and pot.

use phala_primitives::{AccountId32, Balance, H256};
use phala_runtime::modules::referenda::{
    self, GovernanceParams, ReferendumInfo, Standing, TrackId, turnout_of,
};
use phala_runtime::modules::{
    REWARD_POOL_ACCOUNT, TREASURY_ACCOUNT, balances, contracts, conviction_voting, preimage,
    scheduler, treasury,
};

use crate::{Client, ClientError};

/// A referendum and, while it is decided, where it stands.
#[derive(Clone, Debug)]
pub struct ReferendumView {
    pub index: u32,
    pub info: ReferendumInfo,
    /// Its track's rules (`None` for a track the chain no longer has).
    pub track: Option<(TrackId, referenda::TrackInfo)>,
    pub standing: Option<Standing>,
    /// An approved referendum whose call has not run yet: the block it runs at.
    pub enacts_at: Option<u32>,
}

fn missing(what: &str) -> ClientError {
    ClientError::BadResponse {
        method: "state_getStorage".into(),
        reason: format!("this chain has no {what} (it predates governance)"),
    }
}

impl Client {
    /// This chain's tracks, deposits and periods.
    pub async fn governance_params(&self) -> Result<GovernanceParams, ClientError> {
        self.storage_decoded("Referenda.Params", &referenda::PARAMS.key(), None)
            .await?
            .ok_or_else(|| missing("Referenda.Params"))
    }

    /// The PHA that could vote now (the support curves' denominator).
    pub async fn max_turnout(&self) -> Result<Balance, ClientError> {
        let inactive: Balance = self
            .storage_decoded(
                "Balances.InactiveIssuance",
                &balances::INACTIVE_ISSUANCE.key(),
                None,
            )
            .await?
            .unwrap_or(0);
        Ok(turnout_of(
            self.total_issuance().await?,
            self.free_balance(&REWARD_POOL_ACCOUNT).await?,
            self.free_balance(&TREASURY_ACCOUNT).await?,
            inactive,
        ))
    }

    /// Referendum `index`.
    pub async fn referendum(&self, index: u32) -> Result<Option<ReferendumInfo>, ClientError> {
        self.storage_decoded(
            "a Referenda.ReferendumInfoFor entry",
            &referenda::REFERENDUM_INFO_FOR.key(&index),
            None,
        )
        .await
    }

    /// Every referendum at the best block, newest first, with where the ongoing ones stand.
    pub async fn referenda(&self) -> Result<Vec<ReferendumView>, ClientError> {
        let (now, at) = self.best_head().await?;
        let params = self.governance_params().await?;
        let turnout = self.max_turnout().await?;
        let prefix = referenda::REFERENDUM_INFO_FOR.prefix();
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&prefix, at).await? {
            // Blake2_128Concat: the SCALE index follows the prefix and a 16-byte hash.
            let Some(index) = key
                .get(prefix.len().saturating_add(16)..)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
            else {
                continue;
            };
            let Some(info) = self
                .storage_decoded::<ReferendumInfo>(
                    "a Referenda.ReferendumInfoFor entry",
                    &key,
                    Some(at),
                )
                .await?
            else {
                continue;
            };
            let mut v = view(index, info, &params, now, turnout);
            if matches!(v.info, ReferendumInfo::Approved(..)) {
                let lookup: Option<(u32, u32)> = self
                    .storage_decoded(
                        "a Scheduler.Lookup entry",
                        &scheduler::LOOKUP.key(&referenda::enactment_name(index)),
                        Some(at),
                    )
                    .await?;
                v.enacts_at = lookup.map(|(block, _)| block);
            }
            out.push(v);
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.index));
        Ok(out)
    }

    /// The length of the noted preimage of `hash`, if its bytes are on chain.
    pub async fn preimage_len(&self, hash: H256) -> Result<Option<u32>, ClientError> {
        let status: Option<preimage::RequestStatus> = self
            .storage_decoded(
                "a Preimage.RequestStatusFor entry",
                &preimage::REQUEST_STATUS_FOR.key(&hash),
                None,
            )
            .await?;
        Ok(status.and_then(|s| match s {
            preimage::RequestStatus::Unrequested { len, .. } => Some(len),
            preimage::RequestStatus::Requested { maybe_len, .. } => maybe_len,
        }))
    }

    /// How `who` votes on track `class`.
    pub async fn voting_for(
        &self,
        who: &AccountId32,
        class: TrackId,
    ) -> Result<conviction_voting::Voting, ClientError> {
        Ok(self
            .storage_decoded(
                "a ConvictionVoting.VotingFor entry",
                &conviction_voting::VOTING_FOR.key(who, &class),
                None,
            )
            .await?
            .unwrap_or_default())
    }

    /// The PHA `who`'s votes lock, per track.
    pub async fn class_locks(
        &self,
        who: &AccountId32,
    ) -> Result<Vec<(TrackId, Balance)>, ClientError> {
        let locks: Option<conviction_voting::ClassLocks> = self
            .storage_decoded(
                "a ConvictionVoting.ClassLocksFor entry",
                &conviction_voting::CLASS_LOCKS_FOR.key(who),
                None,
            )
            .await?;
        Ok(locks.map(|l| l.to_vec()).unwrap_or_default())
    }

    /// The treasury's rules.
    pub async fn treasury_params(&self) -> Result<treasury::Params, ClientError> {
        self.storage_decoded("Treasury.Params", &treasury::PARAMS.key(), None)
            .await?
            .ok_or_else(|| missing("Treasury.Params"))
    }

    /// What the treasury may spend now.
    pub async fn treasury_pot(&self) -> Result<Balance, ClientError> {
        let owed: Balance = self
            .storage_decoded("Contracts.GasOwed", &contracts::gas::GAS_OWED.key(), None)
            .await?
            .unwrap_or(0);
        Ok(self
            .free_balance(&TREASURY_ACCOUNT)
            .await?
            .saturating_sub(balances::EXISTENTIAL_DEPOSIT)
            .saturating_sub(owed))
    }

    /// Every approved spend not yet processed, by index.
    pub async fn treasury_spends(&self) -> Result<Vec<(u32, treasury::SpendStatus)>, ClientError> {
        let (_, at) = self.best_head().await?;
        self.twox64_entries("a Treasury.Spends entry", &treasury::SPENDS.prefix(), at)
            .await
    }
}

/// A referendum read at block `now`, placed against its track's curves.
pub fn view(
    index: u32,
    info: ReferendumInfo,
    params: &GovernanceParams,
    now: u32,
    turnout: Balance,
) -> ReferendumView {
    let (track, standing) = match &info {
        ReferendumInfo::Ongoing(status) => {
            let track = params.track(status.track).cloned();
            let standing = track.as_ref().map(|t| {
                let elapsed = status
                    .deciding
                    .map(|d| now.saturating_sub(d.since))
                    .unwrap_or(0);
                Standing::new(&status.tally, elapsed, t, turnout)
            });
            (track.map(|t| (status.track, t)), standing)
        }
        _ => (None, None),
    };
    ReferendumView {
        index,
        info,
        track,
        standing,
        enacts_at: None,
    }
}
