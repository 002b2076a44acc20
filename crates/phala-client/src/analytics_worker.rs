//! Web3 Analytics through a worker: the cluster's analytics key (checked against the
//! cluster key on chain), a visitor's signed and sealed statements, a visitor's request for
//! their own data, and owners' and analysts' analyses (signed queries, verified replies).

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_crypto::query::SignedReply;
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_mq::analytics::VisitorKey;
use phala_mq::analytics_api::{
    AccessRequest, AnalyticsAnswer, AnalyticsQuery, Consent, Ingest, IngestItem, PageView,
    VisitorData, WithdrawRequest, service_id,
};
use phala_primitives::{BlockNumber, H256};

use crate::worker::{QueryAs, WorkerApi};
use crate::{Client, ClientError};

/// A visitor's key, as the tracker keeps one in the browser (ed25519).
pub struct Visitor {
    pair: Ed25519Pair,
}

impl Visitor {
    pub fn generate() -> Result<Visitor, ClientError> {
        Ok(Visitor {
            pair: Ed25519Pair::generate()?,
        })
    }

    pub fn from_seed(seed: &[u8; 32]) -> Visitor {
        Visitor {
            pair: Ed25519Pair::from_seed(seed),
        }
    }

    pub fn key(&self) -> VisitorKey {
        VisitorKey::Ed25519(self.pair.public())
    }

    fn sign(&self, genesis: &H256, site: u64, item: IngestItem) -> Ingest {
        let mut ingest = Ingest {
            site,
            visitor: self.key(),
            item,
            signature: [0; 64],
        };
        ingest.signature = self.pair.sign(&ingest.signing_payload(genesis));
        ingest
    }

    /// A consent to `purposes` until `expires_ms`, naming a recent `block`.
    pub fn consent(
        &self,
        genesis: &H256,
        site: u64,
        purposes: u32,
        now_ms: u64,
        expires_ms: u64,
        block: BlockNumber,
    ) -> Ingest {
        let consent = Consent {
            purposes,
            expires_ms,
            signed_ms: now_ms,
            block,
        };
        self.sign(genesis, site, IngestItem::Consent(consent))
    }

    pub fn page_view(&self, genesis: &H256, site: u64, view: PageView) -> Ingest {
        self.sign(genesis, site, IngestItem::PageView(view))
    }

    pub fn erase(&self, genesis: &H256, site: u64, block: BlockNumber) -> Ingest {
        self.sign(genesis, site, IngestItem::Erase { block })
    }

    /// A withdrawal for the chain, signed at `signed_at` (a recent block), with the
    /// cluster's receipt if the visitor kept it (then it is free).
    pub fn withdrawal(
        &self,
        genesis: &H256,
        site: u64,
        signed_at: BlockNumber,
        receipt: Option<[u8; 64]>,
    ) -> WithdrawRequest {
        let visitor = self.key();
        let payload = phala_runtime::modules::analytics::withdrawal_payload(
            genesis, site, &visitor, signed_at,
        );
        WithdrawRequest {
            site,
            visitor,
            signed_at,
            signature: self.pair.sign(&payload),
            receipt,
        }
    }
}

/// Seals a statement to the cluster's analytics key.
pub fn seal_ingest(service_key: &[u8; 32], ingest: &Ingest) -> Result<Vec<u8>, ClientError> {
    let mut rng = commonware_utils::sys_rng();
    Envelope::seal(
        &mut rng,
        service_key,
        Purpose::Ingest,
        None,
        &ingest.encode(),
    )
    .map(|e| e.encode())
    .map_err(|e| ClientError::BadInput {
        what: "the statement".into(),
        reason: e.to_string(),
    })
}

/// What a worker said about an ingested statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    /// Sealed in the worker's checkpoint, on its way to the chain.
    pub durable: bool,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl WorkerApi {
    /// `GET /analytics/info`, as JSON.
    pub async fn analytics_info(&self) -> Result<serde_json::Value, ClientError> {
        let (status, body) = self
            .request(hyper::Method::GET, "/analytics/info", Vec::new())
            .await?;
        if !status.is_success() {
            return Err(self.fail(format!(
                "/analytics/info answered {status}: is this a phala worker's API?"
            )));
        }
        serde_json::from_slice(&body).map_err(|e| self.bad(format!("/analytics/info: {e}")))
    }

    /// The analytics key of `cluster`, as this worker shows it, checked against the cluster
    /// key the chain records: a worker (or anyone between) cannot make visitors seal to a
    /// key of its own.
    pub async fn analytics_key(
        &self,
        node: &Client,
        cluster: H256,
    ) -> Result<[u8; 32], ClientError> {
        let info = self.analytics_info().await?;
        if info
            .get("serviceKey")
            .is_none_or(serde_json::Value::is_null)
        {
            return Err(self.fail(
                "it holds no cluster key: it is in no cluster, or has not received the key yet",
            ));
        }
        let key: [u8; 32] = self
            .hex_field(&info, "/serviceKey")?
            .try_into()
            .map_err(|_| self.bad("the analytics key is not 32 bytes"))?;
        let signature: [u8; 64] = self
            .hex_field(&info, "/serviceKeySignature")?
            .try_into()
            .map_err(|_| self.bad("the analytics key's signature is not 64 bytes"))?;
        let on_chain = node
            .cluster(cluster)
            .await?
            .and_then(|c| c.pubkey)
            .ok_or_else(|| self.fail(format!("cluster {cluster} has no key on chain yet")))?;
        let mut statement = phala_mq::analytics_api::SERVICE_KEY_DOMAIN.to_vec();
        statement.extend_from_slice(node.genesis_hash().as_bytes());
        statement.extend_from_slice(cluster.as_bytes());
        statement.extend_from_slice(&key);
        if !phala_primitives::crypto::sr25519_verify(&signature, &statement, &on_chain) {
            return Err(self.bad(format!(
                "its analytics key is not signed by cluster {cluster}'s key (is the worker in \
                 that cluster?)"
            )));
        }
        Ok(key)
    }

    /// `POST /analytics/ingest` of a sealed statement.
    pub async fn ingest(&self, sealed: Vec<u8>) -> Result<Ingested, ClientError> {
        let (status, body) = self
            .request(hyper::Method::POST, "/analytics/ingest", sealed)
            .await?;
        if !status.is_success() {
            return Err(self.fail(String::from_utf8_lossy(&body).trim().to_string()));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| self.bad(format!("ingest: {e}")))?;
        Ok(Ingested {
            durable: json.get("durable").and_then(|d| d.as_bool()) == Some(true),
        })
    }

    /// What the cluster holds about `visitor` for `site`: a request signed by the visitor's
    /// key and sealed to the analytics key; the answer sealed back and signed by the worker.
    pub async fn visitor_data(
        &self,
        node: &Client,
        service_key: &[u8; 32],
        site: u64,
        visitor: &Visitor,
    ) -> Result<VisitorData, ClientError> {
        let genesis = node.genesis_hash();
        let mut rng = commonware_utils::sys_rng();
        let mut nonce = [0u8; 32];
        rand_core::Rng::fill_bytes(&mut rng, &mut nonce);
        let mut request = AccessRequest {
            site,
            visitor: visitor.key(),
            nonce,
            at_ms: now_ms(),
            signature: [0; 64],
        };
        request.signature = visitor.pair.sign(&request.signing_payload(&genesis));
        let ephemeral = EcdhSecret::generate(&mut rng);
        let mut iv = [0u8; 12];
        rand_core::Rng::fill_bytes(&mut rng, &mut iv);
        let sealed = Envelope::seal_with(
            &ephemeral,
            iv,
            service_key,
            Purpose::Query,
            None,
            &request.encode(),
        )
        .map_err(|e| self.fail(e))?;
        let (status, reply) = self
            .request(hyper::Method::POST, "/analytics/access", sealed.encode())
            .await?;
        if !status.is_success() {
            return Err(self.fail(String::from_utf8_lossy(&reply).trim().to_string()));
        }
        let envelope = Envelope::decode_bounded(&reply).map_err(|e| self.bad(e))?;
        let opened = envelope.open(&ephemeral).map_err(|e| self.bad(e))?;
        let signed = SignedReply::decode_all_with_depth_limit(8, &mut opened.as_slice())
            .map_err(|e| self.bad(format!("the reply: {e}")))?;
        let worker = signed.worker;
        if node.worker(&worker).await?.is_none() {
            return Err(self.bad("the answer is signed by no registered worker"));
        }
        let reply = signed
            .verify(&genesis, &worker, &nonce)
            .map_err(|e| self.bad(e))?;
        let answer = phala_crypto::query::Answer::decode_all_with_depth_limit(
            4,
            &mut reply.payload.as_slice(),
        )
        .map_err(|e| self.bad(format!("the answer: {e}")))?
        .map_err(|why| self.fail(why))?;
        VisitorData::decode_all_with_depth_limit(8, &mut answer.as_slice())
            .map_err(|e| self.bad(format!("the visitor's data: {e}")))
    }

    /// Has the worker put a withdrawal on chain (fee-free); returns the transaction hash.
    pub async fn relay_withdrawal(&self, request: &WithdrawRequest) -> Result<H256, ClientError> {
        let (status, body) = self
            .request(hyper::Method::POST, "/analytics/withdraw", request.encode())
            .await?;
        if !status.is_success() {
            return Err(self.fail(String::from_utf8_lossy(&body).trim().to_string()));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| self.bad(format!("withdraw: {e}")))?;
        let hash = self.hex_field(&json, "/transaction")?;
        <[u8; 32]>::try_from(hash)
            .map(H256)
            .map_err(|_| self.bad("the transaction hash is not 32 bytes"))
    }

    /// Runs an analysis of a site, signed by `signer` (its owner or an analyst), and returns
    /// the worker's verified answer.
    pub async fn analyse(
        &self,
        node: &Client,
        signer: &Sr25519Pair,
        query: AnalyticsQuery,
    ) -> Result<(BlockNumber, AnalyticsAnswer), ClientError> {
        let reply = self
            .query(node, service_id(), query.encode(), QueryAs::Account(signer))
            .await?;
        let bytes = reply.answer.map_err(|why| self.fail(why))?;
        let answer = AnalyticsAnswer::decode(&mut bytes.as_slice())
            .map_err(|e| self.bad(format!("the analysis: {e}")))?;
        Ok((reply.height, answer))
    }
}
