//! Transactions: signing v4 extrinsics exactly as Substrate clients do, estimating their fee,
//! submitting them and following them to finality.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use jsonrpsee::core::client::Subscription;
use parity_scale_codec::Encode;
use phala_keys::Sr25519Pair;
use phala_primitives::crypto::encode_hex;
use phala_primitives::extrinsic::{AdditionalSigned, extrinsic_hash};
use phala_primitives::{
    AccountId32, Balance, BlockNumber, Era, H256, MultiAddress, Nonce, SignedExtra,
};
use phala_runtime::modules::balances;
use phala_runtime::modules::system::{self, Phase};
use phala_runtime::modules::transaction_payment::{self, RuntimeDispatchInfo};
use phala_runtime::{RuntimeCall, RuntimeEvent, UncheckedExtrinsic};

use phala_rpc_api::{AuthorApiClient, Bytes};
use tokio::time::{Instant, sleep, timeout_at};

use crate::client::{Client, decode_exact};
use crate::dispatch::DispatchFailure;
use crate::error::ClientError;

/// Default mortality: 64 blocks, as polkadot.js uses with 6-second blocks.
pub const DEFAULT_MORTALITY: u64 = 64;

/// How to sign a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxOptions {
    /// The nonce; `None` asks the node for the account's next one (pool included).
    pub nonce: Option<Nonce>,
    /// Extra fee for priority, in the smallest unit.
    pub tip: Balance,
    /// Blocks the transaction stays valid for, counted from the finalized head (rounded up to
    /// a power of two, 4 to 65536); `None` makes it immortal. Defaults to 64.
    pub mortality: Option<u64>,
}

impl Default for TxOptions {
    fn default() -> Self {
        TxOptions {
            nonce: None,
            tip: 0,
            mortality: Some(DEFAULT_MORTALITY),
        }
    }
}

/// Everything a signature commits to besides the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigningParams {
    pub nonce: Nonce,
    pub tip: Balance,
    pub era: Era,
    /// Number of the era's birth block (0 for immortal transactions).
    pub birth_number: BlockNumber,
    /// Hash of the era's birth block (the genesis hash for immortal transactions).
    pub birth_hash: H256,
    pub genesis_hash: H256,
    pub spec_version: u32,
    pub transaction_version: u32,
}

/// A signed v4 extrinsic, ready to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    call: RuntimeCall,
    signer: AccountId32,
    params: SigningParams,
    bytes: Vec<u8>,
    hash: H256,
}

impl SignedTx {
    /// Signs `call` offline: `Compact(len) ‖ 0x84 ‖ MultiAddress::Id(signer) ‖
    /// MultiSignature::Sr25519(sig) ‖ era ‖ Compact(nonce) ‖ Compact(tip) ‖ call`, where `sig`
    /// covers `call ‖ era ‖ nonce ‖ tip ‖ spec ‖ tx version ‖ genesis ‖ birth hash` (its
    /// blake2_256 when longer than 256 bytes).
    pub fn new(call: RuntimeCall, signer: &Sr25519Pair, params: SigningParams) -> SignedTx {
        let extra = SignedExtra {
            era: params.era,
            nonce: params.nonce,
            tip: params.tip,
        };
        let additional = AdditionalSigned {
            spec_version: params.spec_version,
            transaction_version: params.transaction_version,
            genesis_hash: params.genesis_hash,
            birth_hash: params.birth_hash,
        };
        let xt = UncheckedExtrinsic::new_signed_sr25519(
            call,
            signer.account_id(),
            extra,
            &additional,
            |message| signer.sign(message),
        );
        let bytes = xt.encode();
        SignedTx {
            hash: extrinsic_hash(&bytes),
            call: xt.function,
            signer: signer.account_id(),
            params,
            bytes,
        }
    }

    /// The full encoding, length prefix included: what is submitted and what blocks carry.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `0x` hex of [`SignedTx::bytes`].
    pub fn to_hex(&self) -> String {
        encode_hex(&self.bytes)
    }

    /// The transaction hash: blake2_256 of [`SignedTx::bytes`].
    pub fn hash(&self) -> H256 {
        self.hash
    }

    pub fn call(&self) -> &RuntimeCall {
        &self.call
    }

    pub fn signer(&self) -> AccountId32 {
        self.signer
    }

    pub fn params(&self) -> &SigningParams {
        &self.params
    }

    /// First block number the transaction can no longer be included in (`None` if immortal).
    pub fn death(&self) -> Option<BlockNumber> {
        match self.params.era {
            Era::Immortal => None,
            Era::Mortal { .. } => {
                let death = self.params.era.death(u64::from(self.params.birth_number));
                Some(BlockNumber::try_from(death).unwrap_or(BlockNumber::MAX))
            }
        }
    }
}

/// `Balances.transfer_keep_alive` (fails rather than reap the sender) or, without
/// `keep_alive`, `Balances.transfer_allow_death`.
pub fn transfer_call(dest: AccountId32, amount: Balance, keep_alive: bool) -> RuntimeCall {
    let dest = MultiAddress::Id(dest);
    RuntimeCall::Balances(if keep_alive {
        balances::Call::transfer_keep_alive {
            dest,
            value: amount,
        }
    } else {
        balances::Call::transfer_allow_death {
            dest,
            value: amount,
        }
    })
}

/// A transaction's status in the node's pool (`author_extrinsicUpdate`).
pub use phala_rpc_api::TransactionStatus as TxStatus;

/// What happened to an included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    pub tx_hash: H256,
    pub block_hash: H256,
    pub block_number: BlockNumber,
    /// Position of the transaction among the block's extrinsics.
    pub extrinsic_index: u32,
    /// The events the transaction emitted (phase `ApplyExtrinsic(extrinsic_index)`).
    pub events: Vec<RuntimeEvent>,
    /// Fee paid, tip included (`TransactionPayment.TransactionFeePaid`); 0 if none was.
    pub fee: Balance,
    /// The tip part of `fee`.
    pub tip: Balance,
    /// Whether the call succeeded; the fee is paid either way.
    pub result: Result<(), DispatchFailure>,
}

impl TxOutcome {
    pub fn is_success(&self) -> bool {
        self.result.is_ok()
    }

    /// The outcome if the call succeeded, else [`ClientError::DispatchFailed`].
    pub fn into_result(self) -> Result<TxOutcome, ClientError> {
        match &self.result {
            Ok(()) => Ok(self),
            Err(failure) => Err(ClientError::DispatchFailed {
                tx: self.tx_hash,
                block_number: self.block_number,
                failure: Box::new(failure.clone()),
            }),
        }
    }
}

enum Watch {
    Subscription(Subscription<TxStatus>),
    /// Over HTTP: finalized blocks are searched for the transaction, from `next` on.
    Poll {
        next: BlockNumber,
        death: Option<BlockNumber>,
        pending: VecDeque<TxStatus>,
    },
}

/// A submitted transaction being followed.
pub struct TxProgress {
    client: Client,
    tx: H256,
    watch: Watch,
    timeout: Duration,
    last: Option<TxStatus>,
}

impl fmt::Debug for TxProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxProgress")
            .field("tx", &self.tx)
            .field("last", &self.last)
            .finish()
    }
}

impl TxProgress {
    pub fn tx_hash(&self) -> H256 {
        self.tx
    }

    /// Replaces the client's finality timeout for this transaction.
    pub fn with_timeout(mut self, timeout: Duration) -> TxProgress {
        self.timeout = timeout;
        self
    }

    /// The next status, `None` once the node stops reporting. Waits at most the timeout.
    pub async fn next_status(&mut self) -> Result<Option<TxStatus>, ClientError> {
        let deadline = tokio::time::Instant::from_std(crate::deadline_after(self.timeout));
        self.next_before(deadline).await
    }

    async fn next_before(&mut self, deadline: Instant) -> Result<Option<TxStatus>, ClientError> {
        let next = match &mut self.watch {
            Watch::Subscription(sub) => match timeout_at(deadline, sub.next()).await {
                Err(_) => return Err(self.timed_out()),
                Ok(None) => None,
                Ok(Some(Ok(status))) => Some(status),
                Ok(Some(Err(e))) => {
                    return Err(ClientError::BadResponse {
                        method: "author_extrinsicUpdate".into(),
                        reason: e.to_string(),
                    });
                }
            },
            Watch::Poll {
                next,
                death,
                pending,
            } => match timeout_at(deadline, poll(&self.client, self.tx, next, *death, pending))
                .await
            {
                Err(_) => return Err(self.timed_out()),
                Ok(status) => Some(status?),
            },
        };
        if next.is_some() {
            self.last.clone_from(&next);
        }
        Ok(next)
    }

    fn timed_out(&self) -> ClientError {
        let last = match &self.last {
            Some(s) => format!("last status: {s}"),
            None => "no status yet".into(),
        };
        // A future transaction waits for transactions that may never come: say so.
        let why = if matches!(self.last, Some(TxStatus::Future)) {
            "; its nonce is above the account's next one, so it waits until every nonce before \
             it is used (leave the nonce out to use the next)"
        } else {
            ""
        };
        ClientError::Timeout {
            what: format!("finalization of transaction {} ({last}{why})", self.tx),
            after: self.timeout,
        }
    }

    /// Waits until the transaction is finalized and reports what it did. Bounded by the
    /// client's finality timeout (default 60 s).
    pub async fn wait_finalized(self) -> Result<TxOutcome, ClientError> {
        self.wait_finalized_with(|_| {}).await
    }

    /// [`TxProgress::wait_finalized`], calling `on_status` with every status on the way.
    pub async fn wait_finalized_with(
        mut self,
        mut on_status: impl FnMut(&TxStatus),
    ) -> Result<TxOutcome, ClientError> {
        let deadline = tokio::time::Instant::from_std(crate::deadline_after(self.timeout));
        loop {
            let Some(status) = self.next_before(deadline).await? else {
                return Err(ClientError::TxNotIncluded {
                    tx: self.tx,
                    reason: "the node stopped reporting its status before it was finalized \
                             (it may still be included)"
                        .into(),
                });
            };
            on_status(&status);
            let reason = match status {
                // Each request of the outcome is bounded by the request timeout.
                TxStatus::Finalized(block) => return self.client.tx_outcome(self.tx, block).await,
                TxStatus::Future
                | TxStatus::Ready
                | TxStatus::Broadcast(_)
                | TxStatus::InBlock(_)
                | TxStatus::Retracted(_) => continue,
                TxStatus::FinalityTimeout(block) => {
                    format!("the node gave up waiting for block {block} to be finalized")
                }
                TxStatus::Usurped(other) => {
                    format!("transaction {other} with the same sender and nonce replaced it")
                }
                TxStatus::Dropped => {
                    "the node dropped it from its pool (the pool was full or its era expired)"
                        .into()
                }
                TxStatus::Invalid => {
                    "it became invalid (its nonce was used or its era expired)".into()
                }
            };
            return Err(ClientError::TxNotIncluded {
                tx: self.tx,
                reason,
            });
        }
    }
}

/// Searches blocks finalized since `next` for transaction `tx` until a status is known:
/// `InBlock` and `Finalized` when found, `Invalid` once its era has passed without it.
async fn poll(
    client: &Client,
    tx: H256,
    next: &mut BlockNumber,
    death: Option<BlockNumber>,
    pending: &mut VecDeque<TxStatus>,
) -> Result<TxStatus, ClientError> {
    loop {
        if let Some(status) = pending.pop_front() {
            return Ok(status);
        }
        let (finalized, _) = client.finalized_head().await?;
        while *next <= finalized {
            let hash = client
                .block_hash(*next)
                .await?
                .ok_or(ClientError::BadResponse {
                    method: "chain_getBlockHash".into(),
                    reason: format!("finalized block #{next} has no hash"),
                })?;
            let block = client
                .block(hash)
                .await?
                .ok_or(ClientError::UnknownBlock { hash })?;
            *next = next.saturating_add(1);
            if block.extrinsics.iter().any(|x| x.hash() == tx) {
                pending.extend([TxStatus::InBlock(hash), TxStatus::Finalized(hash)]);
                break;
            }
            if death.is_some_and(|d| *next > d) {
                pending.push_back(TxStatus::Invalid);
                break;
            }
        }
        if pending.is_empty() {
            sleep(client.inner.config.poll_interval).await;
        }
    }
}

impl Client {
    /// Signs `call` for `signer`. Nonce, era birth block (the finalized head), spec and
    /// transaction versions and the genesis hash come from the node.
    pub async fn sign(
        &self,
        call: RuntimeCall,
        signer: &Sr25519Pair,
        options: TxOptions,
    ) -> Result<SignedTx, ClientError> {
        let nonce = match options.nonce {
            Some(n) => n,
            None => self.next_nonce(&signer.account_id()).await?,
        };
        let version = self.refresh_runtime_version().await?;
        let (era, birth_number, birth_hash) = match options.mortality {
            None => (Era::Immortal, 0, self.genesis_hash()),
            Some(period) => {
                let (number, hash) = self.finalized_head().await?;
                let era = Era::mortal(period, u64::from(number));
                let birth = BlockNumber::try_from(era.birth(u64::from(number))).unwrap_or(number);
                let birth_hash = if birth == number {
                    hash
                } else {
                    self.block_hash(birth)
                        .await?
                        .ok_or_else(|| ClientError::BadResponse {
                            method: "chain_getBlockHash".into(),
                            reason: format!("finalized block #{birth} has no hash"),
                        })?
                };
                (era, birth, birth_hash)
            }
        };
        let params = SigningParams {
            nonce,
            tip: options.tip,
            era,
            birth_number,
            birth_hash,
            genesis_hash: self.genesis_hash(),
            spec_version: version.spec_version,
            transaction_version: version.transaction_version,
        };
        Ok(SignedTx::new(call, signer, params))
    }

    /// Weight, class and fee (`partial_fee`, tip excluded) the node would charge for `tx`
    /// (`TransactionPaymentApi_query_info`).
    pub async fn fee_estimate(&self, tx: &SignedTx) -> Result<RuntimeDispatchInfo, ClientError> {
        let out = self
            .runtime_call("TransactionPaymentApi_query_info", &query_info_input(tx))
            .await?;
        decode_exact("the answer of TransactionPaymentApi_query_info", &out)
    }

    /// Submits `tx` to the node's pool and returns its hash.
    pub async fn submit(&self, tx: &SignedTx) -> Result<H256, ClientError> {
        let call = self.rpc();
        call.submit_extrinsic(Bytes::from(tx.bytes()))
            .await
            .map_err(|e| call.fail(e))
    }

    /// Submits `call` as an unsigned transaction (`Compact(len) ‖ 0x04 ‖ call`), which only
    /// the few calls the chain validates by their own contents accept (a visitor's
    /// withdrawal, say). Returns its hash.
    pub async fn submit_unsigned(&self, call: &RuntimeCall) -> Result<H256, ClientError> {
        let mut body = vec![4u8];
        call.encode_to(&mut body);
        let mut bytes =
            parity_scale_codec::Compact(u32::try_from(body.len()).unwrap_or(u32::MAX)).encode();
        bytes.extend_from_slice(&body);
        let rpc = self.rpc();
        rpc.submit_extrinsic(Bytes::from(bytes))
            .await
            .map_err(|e| rpc.fail(e))
    }

    /// Submits `tx` and follows it: by subscription over WebSocket, by polling finalized
    /// blocks over HTTP.
    pub async fn submit_and_watch(&self, tx: &SignedTx) -> Result<TxProgress, ClientError> {
        let watch = if self.inner.rpc.supports_subscriptions() {
            let call = self.rpc();
            let sub = call
                .submit_and_watch_extrinsic(Bytes::from(tx.bytes()))
                .await
                .map_err(|e| call.fail(e))?;
            Watch::Subscription(sub)
        } else {
            let (finalized, _) = self.finalized_head().await?;
            self.submit(tx).await?;
            Watch::Poll {
                next: finalized.saturating_add(1),
                death: tx.death(),
                pending: VecDeque::from([TxStatus::Ready]),
            }
        };
        Ok(TxProgress {
            client: self.clone(),
            tx: tx.hash(),
            watch,
            timeout: self.inner.config.finality_timeout,
            last: None,
        })
    }

    /// Signs `call`, submits it and waits for finality. When the nonce is the SDK's to
    /// choose and another submitter of the same account (a worker it operates, say) takes
    /// that nonce first, the call is signed again with the next one, at most three times.
    pub async fn submit_and_wait(
        &self,
        call: RuntimeCall,
        signer: &Sr25519Pair,
        options: TxOptions,
    ) -> Result<TxOutcome, ClientError> {
        const RETRIES: u32 = 3;
        let mut attempt = 0;
        loop {
            let tx = self.sign(call.clone(), signer, options).await?;
            let mut usurped = false;
            let result = match self.submit_and_watch(&tx).await {
                Ok(progress) => {
                    progress
                        .wait_finalized_with(|s| usurped |= matches!(s, TxStatus::Usurped(_)))
                        .await
                }
                Err(e) => Err(e),
            };
            // 1014: another transaction with this nonce ranks higher in the pool.
            let lost_nonce =
                usurped || matches!(&result, Err(ClientError::TxRejected { code: 1014, .. }));
            if lost_nonce && options.nonce.is_none() && attempt < RETRIES {
                attempt = attempt.saturating_add(1);
                continue;
            }
            return result;
        }
    }

    /// Transfers `amount` from `signer` to `dest` and waits for finality (see
    /// [`transfer_call`] for `keep_alive`). A transfer that is included but fails is an
    /// `Ok` outcome whose `result` holds the failure; use [`TxOutcome::into_result`] to
    /// treat it as an error.
    pub async fn transfer(
        &self,
        signer: &Sr25519Pair,
        dest: AccountId32,
        amount: Balance,
        keep_alive: bool,
    ) -> Result<TxOutcome, ClientError> {
        let call = transfer_call(dest, amount, keep_alive);
        self.submit_and_wait(call, signer, TxOptions::default())
            .await
    }

    /// What transaction `tx_hash` did in block `block_hash`: its index, events, fee and
    /// dispatch result.
    pub async fn tx_outcome(
        &self,
        tx_hash: H256,
        block_hash: H256,
    ) -> Result<TxOutcome, ClientError> {
        let block = self
            .block(block_hash)
            .await?
            .ok_or(ClientError::UnknownBlock { hash: block_hash })?;
        let index = block
            .extrinsics
            .iter()
            .position(|x| x.hash() == tx_hash)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or(ClientError::TxNotInBlock {
                tx: tx_hash,
                block: block_hash,
            })?;
        let events: Vec<RuntimeEvent> = self
            .events_at(block_hash)
            .await?
            .into_iter()
            .filter(|r| r.phase == Phase::ApplyExtrinsic(index))
            .map(|r| r.event)
            .collect();
        let (fee, tip) = events
            .iter()
            .find_map(|e| match e {
                RuntimeEvent::TransactionPayment(
                    transaction_payment::Event::TransactionFeePaid {
                        actual_fee, tip, ..
                    },
                ) => Some((*actual_fee, *tip)),
                _ => None,
            })
            .unwrap_or((0, 0));
        let failure = events.iter().find_map(|e| match e {
            RuntimeEvent::System(system::Event::ExtrinsicFailed { dispatch_error, .. }) => {
                Some(*dispatch_error)
            }
            _ => None,
        });
        let result = match failure {
            None => Ok(()),
            Some(error) => Err(DispatchFailure::new(error, &*self.metadata().await)),
        };
        Ok(TxOutcome {
            tx_hash,
            block_hash,
            block_number: block.header.number,
            extrinsic_index: index,
            events,
            fee,
            tip,
            result,
        })
    }
}

/// Input of `TransactionPaymentApi_query_info`: the extrinsic as encoded (length prefix
/// included) and that length as a u32.
fn query_info_input(tx: &SignedTx) -> Vec<u8> {
    let mut input = tx.bytes().to_vec();
    let len = u32::try_from(tx.bytes().len()).unwrap_or(u32::MAX);
    input.extend_from_slice(&len.to_le_bytes());
    input
}

#[cfg(test)]
mod tests;
