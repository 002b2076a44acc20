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
        let sites: Vec<(u64, SiteInfo)> = self
            .twox64_entries("an Analytics.Sites entry", &analytics::SITES.prefix(), at)
            .await?;
        let mut out = Vec::new();
        for (id, info) in sites {
            out.push(SiteSnapshot {
                id,
                prepaid: self.prepaid(id, Some(at)).await?,
                info,
            });
        }
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
        let prepaid = self.prepaid(id, at).await?;
        Ok(Some(SiteSnapshot { id, info, prepaid }))
    }

    /// What the site's account holds.
    async fn prepaid(&self, id: u64, at: Option<H256>) -> Result<Balance, ClientError> {
        let account = analytics::site_account(id);
        Ok(self
            .storage_decoded::<phala_runtime::modules::system::AccountInfo>(
                "the site's account",
                &phala_runtime::modules::system::ACCOUNT.key(&account),
                at,
            )
            .await?
            .map_or(0, |a| a.data.free))
    }
}
