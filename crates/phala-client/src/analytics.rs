//! Web3 Analytics' sites as the chain records them: configuration, owner, cluster and the
//! prepayment left.

use phala_primitives::{Balance, H256};
use phala_runtime::modules::analytics::{self, SiteInfo};

use crate::{Client, ClientError};

/// A site and the prepayment its account holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSnapshot {
    pub id: u64,
    pub info: SiteInfo,
    pub prepaid: Balance,
}

impl Client {
    /// Every open site, by id, at the best block.
    pub async fn sites(&self) -> Result<Vec<SiteSnapshot>, ClientError> {
        let (_, at) = self.best_head().await?;
        let prefix = analytics::SITES.prefix();
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&prefix, at).await? {
            // Twox64Concat: the SCALE id follows the prefix and an 8-byte hash.
            let Some(id) = key
                .get(prefix.len().saturating_add(8)..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
            else {
                continue;
            };
            if let Some(site) = self.site_at(id, Some(at)).await? {
                out.push(site);
            }
        }
        out.sort_by_key(|s| s.id);
        Ok(out)
    }

    /// One open site at the best block.
    pub async fn site(&self, id: u64) -> Result<Option<SiteSnapshot>, ClientError> {
        self.site_at(id, None).await
    }

    async fn site_at(
        &self,
        id: u64,
        at: Option<H256>,
    ) -> Result<Option<SiteSnapshot>, ClientError> {
        let Some(info) = self
            .storage_decoded::<SiteInfo>("an Analytics.Sites entry", &analytics::SITES.key(&id), at)
            .await?
        else {
            return Ok(None);
        };
        let account = analytics::site_account(id);
        let prepaid = self
            .storage_decoded::<phala_runtime::modules::system::AccountInfo>(
                "the site's account",
                &phala_runtime::modules::system::ACCOUNT.key(&account),
                at,
            )
            .await?
            .map_or(0, |a| a.data.free);
        Ok(Some(SiteSnapshot { id, info, prepaid }))
    }
}
