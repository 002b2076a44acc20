//! Confidential contracts from the client's side: upload a code, instantiate it in a
//! cluster, push commands and wait for their cluster to run them, and query.
//!
//! Inputs are sealed here, on the caller's machine: constructor data to the cluster's key,
//! commands to the contract's key, both as a `SealedInput` that names the submitting account
//! (so nobody can resubmit a copy as someone else) and a fresh X25519 reply key. The cluster
//! reports each command on chain with its result and events sealed to that reply key; only
//! this caller opens them. The chain and the node see ids, gas and status, nothing more.

use std::time::{Duration, Instant};

use parity_scale_codec::{DecodeLimit, Encode};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_mq::contracts::{CommandStatus, ContractQueryResult, ExecutionOutput, SealedInput};
use phala_primitives::{Balance, BlockNumber, H256};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::contracts::{
    self as module, ClusterInfo, ContractRecord, ContractStatus, Event,
};

use crate::worker::{QueryAs, WorkerApi};
use crate::{Client, ClientError, RuntimeEvent, TxOptions, TxOutcome};

/// How long to wait for a cluster to run a command once it is on chain.
pub const EXECUTION_TIMEOUT: Duration = Duration::from_secs(60);

/// What a cluster reported about a command (or an instantiation).
#[derive(Clone, Debug)]
pub struct CommandResult {
    pub command: u64,
    pub contract: H256,
    pub status: CommandStatus,
    pub gas_used: u64,
    /// PHA paid for the gas used.
    pub fee: Balance,
    /// PHA it paid into contracts' accounts: storage deposit for what it added, and the
    /// existential deposit of each contract it created.
    pub storage_deposit: Balance,
    /// PHA paid back to it for storage it freed.
    pub storage_refunded: Balance,
    /// The result and events, opened with this caller's reply key.
    pub output: Option<ExecutionOutput>,
    /// The block whose events carried the report.
    pub reported_in: BlockNumber,
}

/// Seals `input` for `recipient` as `origin`, with a fresh reply key.
pub fn seal_input(
    origin: &Sr25519Pair,
    recipient: &[u8; 32],
    contract: Option<H256>,
    input: Vec<u8>,
) -> Result<(Envelope, EcdhSecret), ClientError> {
    let mut rng = commonware_utils::sys_rng();
    let reply = EcdhSecret::generate(&mut rng);
    let sealed = SealedInput {
        origin: origin.public(),
        input,
        reply_key: Some(reply.public()),
    };
    let envelope = Envelope::seal(
        &mut rng,
        recipient,
        Purpose::Command,
        contract,
        &sealed.encode(),
    )
    .map_err(|e| ClientError::BadInput {
        what: "the contract input".into(),
        reason: e.to_string(),
    })?;
    Ok((envelope, reply))
}

impl Client {
    /// A cluster, by id.
    pub async fn cluster(&self, id: H256) -> Result<Option<ClusterInfo>, ClientError> {
        self.storage_decoded(
            "a Contracts.Clusters entry",
            &module::CLUSTERS.key(&id),
            None,
        )
        .await
    }

    /// The workers added to a cluster that do not hold its state yet.
    pub async fn joining(
        &self,
        id: H256,
    ) -> Result<Vec<phala_runtime::modules::contracts::JoiningWorker>, ClientError> {
        Ok(self
            .storage_decoded("a Contracts.Joining entry", &module::JOINING.key(&id), None)
            .await?
            .unwrap_or_default())
    }

    /// A contract's record on chain (code, cluster, status, public keys).
    pub async fn contract(&self, id: H256) -> Result<Option<ContractRecord>, ClientError> {
        self.storage_decoded(
            "a Contracts.Instances entry",
            &module::INSTANCES.key(&id),
            None,
        )
        .await
    }

    /// Whether a code is uploaded.
    pub async fn code_uploaded(&self, code_hash: H256) -> Result<bool, ClientError> {
        Ok(self
            .storage(&module::CODE_RECORDS.key(&code_hash), None)
            .await?
            .is_some())
    }

    async fn submit_finalized(
        &self,
        signer: &Sr25519Pair,
        call: RuntimeCall,
    ) -> Result<TxOutcome, ClientError> {
        self.submit_and_wait(call, signer, TxOptions::default())
            .await?
            .into_result()
    }

    /// Uploads a code (validated on chain with the workers' rules). Returns its hash and
    /// whether this call uploaded it (`false`: it was there already).
    pub async fn upload_code(
        &self,
        signer: &Sr25519Pair,
        code: Vec<u8>,
    ) -> Result<(H256, bool), ClientError> {
        let hash = H256(phala_primitives::hashing::blake2_256(&code));
        if self.code_uploaded(hash).await? {
            return Ok((hash, false));
        }
        self.submit_finalized(
            signer,
            RuntimeCall::Contracts(module::Call::upload_code { code }),
        )
        .await?;
        Ok((hash, true))
    }

    /// Instantiates an uploaded code in `cluster` and waits until the cluster has run the
    /// constructor. `input` is the constructor's selector and SCALE arguments.
    #[allow(clippy::too_many_arguments)]
    pub async fn instantiate(
        &self,
        signer: &Sr25519Pair,
        code_hash: H256,
        input: Vec<u8>,
        salt: Vec<u8>,
        cluster: H256,
        gas_limit: u64,
        deposit: Balance,
    ) -> Result<CommandResult, ClientError> {
        let info = self
            .cluster(cluster)
            .await?
            .ok_or_else(|| ClientError::BadInput {
                what: "--cluster".into(),
                reason: format!("there is no cluster {cluster}"),
            })?;
        let key = info.ecdh_pubkey.ok_or_else(|| ClientError::BadInput {
            what: "--cluster".into(),
            reason: format!(
                "cluster {cluster} has no key yet: its gatekeepers have not delivered it"
            ),
        })?;
        let (data, reply) = seal_input(signer, &key, None, input)?;
        let call = RuntimeCall::Contracts(module::Call::instantiate {
            code_hash,
            data,
            salt,
            cluster,
            gas_limit,
            deposit,
        });
        self.run_command(signer, call, &reply).await
    }

    /// Pushes a command (selector and SCALE arguments) to an instantiated contract and waits
    /// until its cluster has run it.
    pub async fn call_contract(
        &self,
        signer: &Sr25519Pair,
        contract: H256,
        input: Vec<u8>,
        gas_limit: u64,
        deposit: Balance,
    ) -> Result<CommandResult, ClientError> {
        let record = self
            .contract(contract)
            .await?
            .ok_or_else(|| ClientError::BadInput {
                what: "--contract".into(),
                reason: format!("there is no contract {contract}"),
            })?;
        let key = match (record.status, record.ecdh_pubkey) {
            (ContractStatus::Active, Some(key)) => key,
            _ => {
                return Err(ClientError::BadInput {
                    what: "--contract".into(),
                    reason: format!("contract {contract} is still being instantiated"),
                });
            }
        };
        let (payload, reply) = seal_input(signer, &key, Some(contract), input)?;
        let call = RuntimeCall::Contracts(module::Call::push_command {
            contract,
            payload,
            gas_limit,
            deposit,
        });
        self.run_command(signer, call, &reply).await
    }

    /// Submits an instantiation or a command, finds the id the chain gave it, and waits for
    /// the cluster's report.
    async fn run_command(
        &self,
        signer: &Sr25519Pair,
        call: RuntimeCall,
        reply: &EcdhSecret,
    ) -> Result<CommandResult, ClientError> {
        let outcome = self.submit_finalized(signer, call).await?;
        let command = outcome
            .events
            .iter()
            .find_map(|e| match e {
                RuntimeEvent::Contracts(
                    Event::Instantiating { command, .. } | Event::CommandPushed { command, .. },
                ) => Some(*command),
                _ => None,
            })
            .ok_or_else(|| ClientError::BadResponse {
                method: "Contracts".into(),
                reason: "the transaction has no Instantiating or CommandPushed event".into(),
            })?;
        self.wait_command(
            command,
            outcome.block_number,
            Some(reply),
            EXECUTION_TIMEOUT,
        )
        .await
    }

    /// Gives up a command its cluster has not reported for `COMMAND_TIMEOUT` blocks. The
    /// cluster may have run it, so its whole gas limit is paid and its deposit limit is
    /// forfeited to the treasury; an instantiation's deposit comes back (the
    /// `CommandCancelled` event says what was charged). Returns the block it was cancelled in.
    pub async fn cancel_command(
        &self,
        signer: &Sr25519Pair,
        command: u64,
    ) -> Result<BlockNumber, ClientError> {
        let call = RuntimeCall::Contracts(module::Call::cancel_command { command });
        Ok(self.submit_finalized(signer, call).await?.block_number)
    }

    /// Waits for the cluster's report of `command`, reading finalized blocks from `from`.
    pub async fn wait_command(
        &self,
        command: u64,
        from: BlockNumber,
        reply: Option<&EcdhSecret>,
        timeout: Duration,
    ) -> Result<CommandResult, ClientError> {
        let deadline = crate::deadline_after(timeout);
        let mut next = from;
        loop {
            let (finalized, _) = self.finalized_head().await?;
            while next <= finalized {
                let hash = self
                    .block_hash(next)
                    .await?
                    .ok_or(ClientError::BadResponse {
                        method: "chain_getBlockHash".into(),
                        reason: format!("finalized block #{next} has no hash"),
                    })?;
                for record in self.events_at(hash).await? {
                    if let RuntimeEvent::Contracts(Event::CommandExecuted {
                        contract,
                        command: id,
                        status,
                        gas_used,
                        fee,
                        storage_deposit,
                        storage_refunded,
                        output,
                    }) = record.event
                        && id == command
                    {
                        let output = match (output, reply) {
                            (Some(envelope), Some(secret)) => Some(open_output(&envelope, secret)?),
                            _ => None,
                        };
                        return Ok(CommandResult {
                            command,
                            contract,
                            status,
                            gas_used,
                            fee,
                            storage_deposit,
                            storage_refunded,
                            output,
                            reported_in: next,
                        });
                    }
                }
                next = next.saturating_add(1);
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: format!("the cluster's report of command {command}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn open_output(envelope: &Envelope, secret: &EcdhSecret) -> Result<ExecutionOutput, ClientError> {
    let bad = |reason: String| ClientError::BadResponse {
        method: "Contracts.CommandExecuted".into(),
        reason,
    };
    let plain = envelope
        .open(secret)
        .map_err(|e| bad(format!("the sealed output: {e}")))?;
    ExecutionOutput::decode_all_with_depth_limit(8, &mut plain.as_slice())
        .map_err(|e| bad(format!("the sealed output does not decode: {e}")))
}

impl WorkerApi {
    /// Queries a contract (selector and SCALE arguments) on this worker: the answer is run
    /// against the worker's last verified block and nothing it does is kept.
    pub async fn query_contract(
        &self,
        node: &Client,
        contract: H256,
        input: Vec<u8>,
        signer: QueryAs<'_>,
    ) -> Result<(BlockNumber, ContractQueryResult), ClientError> {
        let reply = self.query(node, contract, input, signer).await?;
        let bytes = reply
            .answer
            .map_err(|reason| ClientError::ContractQuery { reason })?;
        let result = ContractQueryResult::decode_all_with_depth_limit(4, &mut bytes.as_slice())
            .map_err(|e| ClientError::BadResponse {
                method: "a contract query".into(),
                reason: e.to_string(),
            })?;
        Ok((reply.height, result))
    }
}
