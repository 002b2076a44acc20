//! Encrypted queries to a worker's HTTP API, checked end to end.
//!
//! [`WorkerApi::query`] trusts neither the worker's host nor the network: it checks that the
//! worker is registered on chain (and is the one expected, with [`WorkerApi::expecting`]),
//! that its identity signed the query key it encrypts to, names that worker in the signed
//! query, seals the query so only that key opens it, and accepts only a reply that
//! opens with its own ephemeral key, echoes its nonce, is signed by that identity, and names
//! a block the chain has at that height.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_crypto::query::{
    Answer, MAX_QUERY_TTL, QueryBody, QueryKeyCertificate, QuerySigner, SessionCertificate,
    SignedQuery, SignedReply,
};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_primitives::{AccountId32, BlockNumber, H256};

use crate::{Client, ClientError};

/// How long a query may wait for the worker.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply accepted.
const MAX_REPLY: usize = phala_crypto::MAX_ENVELOPE;
/// Blocks a query stays valid for.
const QUERY_TTL: BlockNumber = 100;

/// How a query is signed.
pub enum QueryAs<'a> {
    /// No signature: the contract sees no caller.
    Anonymous,
    /// Signed by the account itself.
    Account(&'a Sr25519Pair),
    /// Signed by a session key the account certified until a block.
    Session {
        key: &'a Sr25519Pair,
        certificate: SessionCertificate,
    },
}

/// A session certificate: `account` lets `session_key` sign its queries until `expires_at`.
pub fn certify_session(
    genesis: &H256,
    account: &Sr25519Pair,
    session_key: [u8; 32],
    expires_at: BlockNumber,
) -> SessionCertificate {
    SessionCertificate {
        account: account.account_id(),
        session_key,
        expires_at,
        signature: account.sign(&SessionCertificate::signing_payload(
            genesis,
            &session_key,
            expires_at,
        )),
    }
}

/// A reply that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReply {
    pub worker: [u8; 32],
    pub height: BlockNumber,
    pub block_hash: H256,
    /// The worker's answer, or why it gave none.
    pub answer: Answer,
}

/// A worker's HTTP API.
pub struct WorkerApi {
    url: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
    expected: Option<[u8; 32]>,
}

impl WorkerApi {
    /// `url`: the worker's API, e.g. `http://127.0.0.1:8000`.
    pub fn new(url: &str) -> Result<WorkerApi, ClientError> {
        let url = url.trim_end_matches('/').to_string();
        if !url.starts_with("http://") {
            return Err(ClientError::Worker {
                url,
                reason: "expected an http:// URL".into(),
            });
        }
        Ok(WorkerApi {
            url,
            http: HttpClient::builder(TokioExecutor::new()).build_http(),
            expected: None,
        })
    }

    /// Accept only the worker with this identity key. Without it the worker's own `/info`
    /// names it, which a man in the middle could change to another registered worker.
    pub fn expecting(mut self, worker: [u8; 32]) -> WorkerApi {
        self.expected = Some(worker);
        self
    }

    pub(crate) fn fail(&self, reason: impl ToString) -> ClientError {
        ClientError::Worker {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn bad(&self, reason: impl ToString) -> ClientError {
        ClientError::BadWorkerAnswer {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    pub(crate) async fn request(
        &self,
        method: hyper::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(hyper::StatusCode, Vec<u8>), ClientError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.fail(e))?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| {
                // hyper says only "client error (Connect)"; the cause is in its source chain.
                match crate::rpc::io_reason(&e) {
                    Some(reason) => self.fail(format!(
                        "{reason}: no worker answers there (`phala workers` lists the registered \
                         ones; a devnet runs workers with --workers N, from port 8000)"
                    )),
                    None => self.fail(e),
                }
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_REPLY)
                .collect()
                .await
                .map_err(|e| self.fail(format!("reading the answer: {e}")))?
                .to_bytes()
                .to_vec();
            Ok((status, body))
        };
        tokio::time::timeout(QUERY_TIMEOUT, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                what: format!("a request to worker {}", self.url),
                after: QUERY_TIMEOUT,
            })?
    }

    /// `GET /info`, as JSON.
    pub async fn info(&self) -> Result<serde_json::Value, ClientError> {
        let (status, body) = self
            .request(hyper::Method::GET, "/info", Vec::new())
            .await?;
        if !status.is_success() {
            return Err(self.fail(format!("/info answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| self.bad(format!("/info: {e}")))
    }

    /// A hex field of `/info`, by JSON pointer.
    pub(crate) fn hex_field(
        &self,
        info: &serde_json::Value,
        name: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let text = info
            .pointer(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.bad(format!("/info has no {name}; is the worker synced?")))?;
        phala_primitives::crypto::decode_hex(text).map_err(|e| self.bad(format!("{name}: {e}")))
    }

    fn identity_in(&self, info: &serde_json::Value) -> Result<[u8; 32], ClientError> {
        self.hex_field(info, "/pubkey")?
            .try_into()
            .map_err(|_| self.bad("the pubkey is not 32 bytes"))
    }

    /// The identity key the worker's `/info` claims: only a claim, which
    /// [`query_key`](Self::query_key) checks against the chain and a query then holds the
    /// worker to.
    pub async fn claimed_identity(&self) -> Result<[u8; 32], ClientError> {
        self.identity_in(&self.info().await?)
    }

    /// The worker's identity and its current query key, checked against the chain.
    pub async fn query_key(
        &self,
        node: &Client,
    ) -> Result<([u8; 32], QueryKeyCertificate), ClientError> {
        let info = self.info().await?;
        let worker = self.identity_in(&info)?;
        if let Some(expected) = self.expected
            && expected != worker
        {
            return Err(self.bad(format!(
                "it says it is worker 0x{}, not the expected 0x{}",
                hex::encode(worker),
                hex::encode(expected)
            )));
        }
        let Some(registered) = node.worker(&worker).await? else {
            return Err(self.fail(format!(
                "0x{} is not a registered worker on this chain",
                hex::encode(worker)
            )));
        };
        // A worker whose attestation lapsed is no longer vouched for: nothing secret goes to
        // it until it re-attests.
        let (height, _) = node.finalized_head().await?;
        if height > registered.expires_at {
            return Err(self.fail(format!(
                "0x{}'s attestation expired after block #{} (the chain is at #{height}): it \
                 is not trusted with queries until it re-attests",
                hex::encode(worker),
                registered.expires_at
            )));
        }
        let bytes = self.hex_field(&info, "/queryKey/certificate")?;
        let certificate = QueryKeyCertificate::decode_all_with_depth_limit(4, &mut &bytes[..])
            .map_err(|e| self.bad(format!("the query key certificate: {e}")))?;
        if !certificate.verify(&node.genesis_hash(), &worker) {
            return Err(self.bad("the query key is not signed by the worker's identity"));
        }
        Ok((worker, certificate))
    }

    /// Sends `payload` for `contract` and returns the verified reply.
    pub async fn query(
        &self,
        node: &Client,
        contract: H256,
        payload: Vec<u8>,
        signer: QueryAs<'_>,
    ) -> Result<VerifiedReply, ClientError> {
        let (worker, certificate) = self.query_key(node).await?;
        let genesis = node.genesis_hash();
        let (height, _) = node.finalized_head().await?;
        let mut rng = commonware_utils::sys_rng();
        let mut nonce = [0u8; 32];
        rand_core::Rng::fill_bytes(&mut rng, &mut nonce);
        let body = QueryBody {
            worker,
            contract,
            nonce,
            expires_at: height.saturating_add(QUERY_TTL.min(MAX_QUERY_TTL)),
            payload,
        };
        let signing = body.signing_payload(&genesis);
        let signer = match signer {
            QueryAs::Anonymous => None,
            QueryAs::Account(pair) => Some(QuerySigner::Account {
                account: pair.account_id(),
                signature: pair.sign(&signing),
            }),
            QueryAs::Session { key, certificate } => Some(QuerySigner::Session {
                certificate,
                signature: key.sign(&signing),
            }),
        };
        let query = SignedQuery { body, signer };
        let ephemeral = EcdhSecret::generate(&mut rng);
        let sealed = Envelope::seal_with(
            &ephemeral,
            {
                let mut iv = [0u8; 12];
                rand_core::Rng::fill_bytes(&mut rng, &mut iv);
                iv
            },
            &certificate.ecdh_pubkey,
            Purpose::Query,
            Some(contract),
            &query.encode(),
        )
        .map_err(|e| self.fail(e))?;
        let (status, reply) = self
            .request(hyper::Method::POST, "/query", sealed.encode())
            .await?;
        if !status.is_success() {
            return Err(self.fail(String::from_utf8_lossy(&reply).trim().to_string()));
        }
        let envelope = Envelope::decode_bounded(&reply).map_err(|e| self.bad(e))?;
        if envelope.header.purpose != Purpose::QueryReply {
            return Err(self.bad("the reply envelope is not a query reply"));
        }
        let opened = envelope.open(&ephemeral).map_err(|e| self.bad(e))?;
        let signed = SignedReply::decode_all_with_depth_limit(8, &mut opened.as_slice())
            .map_err(|e| self.bad(format!("the reply: {e}")))?;
        let reply = signed
            .verify(&genesis, &worker, &nonce)
            .map_err(|e| self.bad(e))?;
        match node.block_hash(reply.height).await? {
            Some(hash) if hash == reply.block_hash => {}
            _ => {
                return Err(self.bad(format!(
                    "it answered at block #{} {}, which is not the chain's",
                    reply.height, reply.block_hash
                )));
            }
        }
        let answer = Answer::decode_all_with_depth_limit(4, &mut reply.payload.as_slice())
            .map_err(|e| self.bad(format!("the answer: {e}")))?;
        Ok(VerifiedReply {
            worker,
            height: reply.height,
            block_hash: reply.block_hash,
            answer,
        })
    }
}

/// Decodes the worker-itself answer: the caller the worker saw.
pub fn decode_caller(answer: &[u8]) -> Result<Option<AccountId32>, parity_scale_codec::Error> {
    Option::<AccountId32>::decode(&mut &answer[..])
}
