//! `chain_*` queries: finalized blocks, headers and hashes. Unknown blocks answer `null`, as
//! in Substrate, because clients probe for blocks that may not exist yet. The head
//! subscriptions are in `subscriptions`.

use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use phala_primitives::{Block, BlockNumber, H256};
use phala_rpc_api::{
    BlockNumberParam, Bytes, ChainApiServer, FinalityProofJson, HeaderJson, ListOrValue,
    SignedBlockJson,
};

use crate::{Api, RpcResult, errors, subscriptions};

#[async_trait]
impl ChainApiServer for Api {
    /// The head for no number, `null` for numbers not yet finalized, and an array answer for
    /// an array of numbers (Substrate's `ListOrValue`).
    fn block_hash(
        &self,
        number: Option<ListOrValue<BlockNumberParam>>,
    ) -> RpcResult<ListOrValue<Option<H256>>> {
        match number {
            None => {
                let (_, hash) = self.chain.finalized().map_err(errors::chain_client)?;
                Ok(ListOrValue::Value(Some(hash)))
            }
            Some(ListOrValue::Value(n)) => Ok(ListOrValue::Value(self.hash_of(n.0)?)),
            // At most `MAX_LIST` of them: longer lists do not decode.
            Some(ListOrValue::List(numbers)) => numbers
                .iter()
                .map(|n| self.hash_of(n.0))
                .collect::<RpcResult<Vec<_>>>()
                .map(ListOrValue::List),
        }
    }

    fn header(&self, hash: Option<H256>) -> RpcResult<Option<HeaderJson>> {
        Ok(self.block_at(hash)?.map(|b| HeaderJson::from(&b.header)))
    }

    fn block(&self, hash: Option<H256>) -> RpcResult<Option<SignedBlockJson>> {
        match self.block_at(hash)? {
            Some(b) => {
                let certificate = self.certificate(b.header.number)?;
                Ok(Some(SignedBlockJson::new(&b, certificate)))
            }
            None => Ok(None),
        }
    }

    fn finalized_head(&self) -> RpcResult<H256> {
        self.chain
            .finalized()
            .map(|(_, hash)| hash)
            .map_err(errors::chain_client)
    }

    fn finality_proof(&self, hash: H256) -> RpcResult<Option<FinalityProofJson>> {
        let Some(number) = self
            .chain
            .store()
            .block_number(&hash)
            .map_err(errors::chain_client)?
        else {
            return Ok(None);
        };
        let engine = phala_primitives::consensus::FINALITY_ENGINE_ID;
        Ok(self
            .certificate(number)?
            .filter(|c| !c.is_empty())
            .map(|c| FinalityProofJson {
                block_hash: hash,
                block_number: number,
                engine: String::from_utf8_lossy(&engine).into_owned(),
                certificate: Bytes(c),
            }))
    }

    async fn subscribe_new_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        subscriptions::follow_heads(pending, self.chain.clone()).await
    }

    async fn subscribe_all_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        subscriptions::follow_heads(pending, self.chain.clone()).await
    }

    async fn subscribe_finalized_heads(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        subscriptions::follow_heads(pending, self.chain.clone()).await
    }
}

impl Api {
    fn hash_of(&self, n: BlockNumber) -> RpcResult<Option<H256>> {
        self.chain
            .store()
            .block_by_number(n)
            .map(|b| b.map(|b| b.hash()))
            .map_err(errors::chain_client)
    }

    /// The finality certificate stored with finalized block `number` (empty for genesis and
    /// for blocks finalized only through a descendant's certificate).
    fn certificate(&self, number: BlockNumber) -> RpcResult<Option<Vec<u8>>> {
        self.chain
            .store()
            .justification(number)
            .map_err(errors::chain_client)
    }

    /// A finalized block by hash, or the head.
    fn block_at(&self, at: Option<H256>) -> RpcResult<Option<Block>> {
        let store = self.chain.store();
        let found = match at {
            Some(hash) => store.block(&hash),
            None => {
                let (n, _) = self.chain.finalized().map_err(errors::chain_client)?;
                store.block_by_number(n)
            }
        };
        found.map_err(errors::chain_client)
    }
}
