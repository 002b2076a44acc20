//! Confidential contracts on the queue (docs/protocol.md, *Contract commands*): the chain hands
//! each cluster its uploads, instantiations and commands in chain order ([`ContractCommand`]), and
//! cluster workers report what each did ([`ContractReport`]). Inputs travel sealed: an
//! instantiation's constructor data to the cluster key, a command to the contract key. The chain
//! sees ids, gas and status, never an input, an output or a contract's state.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::Envelope;
use phala_primitives::H256;
use scale_info::TypeInfo;

/// Chain → cluster workers: [`ContractCommand`]s, in chain order.
pub const CONTRACT_COMMAND: &[u8] = b"phala/contract/command";
/// Cluster worker → chain: [`ContractReport`]s. The member the command names reports it;
/// the chain takes the first report of each command from any member.
pub const CONTRACT_REPORT: &[u8] = b"^phala/contract/report";

/// Largest sealed input of a command or an instantiation, so its message fits the queue.
pub const MAX_SEALED_INPUT: usize = 48 * 1024;
/// Largest sealed output in a report.
pub const MAX_SEALED_OUTPUT: usize = 16 * 1024;

/// What contracts cost, in plancks. Governance sets it (`contracts.setPricing`); a command
/// keeps the prices in force when it was pushed: the chain reserves and settles it at them,
/// and every member runs it with them, so a change never catches a command half-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Pricing {
    /// Per unit of gas (about one wasm instruction).
    pub gas_price: u128,
    /// Per byte of contract storage a command adds, from its deposit.
    pub storage_deposit_per_byte: u128,
    /// Per byte of uploaded code, reserved from the uploader (the chain's alone).
    pub code_deposit_per_byte: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ContractCommand {
    /// A code was uploaded: every worker fetches it (it is public) before going on.
    #[codec(index = 0)]
    CodeUploaded { code_hash: H256 },
    /// Instantiate `code_hash` in `cluster`; `data` is a [`SealedInput`] for the cluster key.
    #[codec(index = 1)]
    Instantiate {
        id: u64,
        cluster: H256,
        contract: H256,
        code_hash: H256,
        deployer: [u8; 32],
        salt: Vec<u8>,
        data: Envelope,
        gas_limit: u64,
        deposit: u128,
        /// The member that reports it (one report per command, not one per member).
        reporter: [u8; 32],
        pricing: Pricing,
    },
    /// Call `contract`; `payload` is a [`SealedInput`] for the contract key.
    #[codec(index = 2)]
    Call {
        id: u64,
        cluster: H256,
        contract: H256,
        origin: [u8; 32],
        payload: Envelope,
        gas_limit: u64,
        deposit: u128,
        reporter: [u8; 32],
        pricing: Pricing,
    },
    /// Command `id` went unreported for a while (its reporter may be down): `reporter`, the
    /// next member, sends the report it made when it ran the command.
    #[codec(index = 3)]
    Reassign {
        id: u64,
        cluster: H256,
        reporter: [u8; 32],
    },
    /// Call `contract` with a message that came over the bridge: a call from a contract on
    /// another chain, or the reply to one this cluster's contract sent. The input is in the
    /// clear (it was in the other chain's state); `origin` is the remote sender's account
    /// here ([`remote_origin`]). The report carries the return data in the clear, for the
    /// acknowledgement that goes back.
    #[codec(index = 4)]
    Deliver {
        id: u64,
        cluster: H256,
        contract: H256,
        origin: [u8; 32],
        input: Vec<u8>,
        gas_limit: u64,
        deposit: u128,
        reporter: [u8; 32],
        pricing: Pricing,
    },
}

/// The account a contract on another chain calls as: its id behind this chain's channel end,
/// hashed, so it is nobody's account here and differs per channel.
pub fn remote_origin(channel: u32, contract: &H256) -> [u8; 32] {
    bridge_account(b"phala/bridge/remote", channel, contract)
}

/// The account the bridge delivers a reply as: the answering contract behind the channel,
/// in a domain of its own, so no call that contract makes can pass for a reply.
pub fn reply_origin(channel: u32, contract: &H256) -> [u8; 32] {
    bridge_account(b"phala/bridge/reply", channel, contract)
}

fn bridge_account(domain: &[u8], channel: u32, contract: &H256) -> [u8; 32] {
    let mut data = domain.to_vec();
    data.extend_from_slice(&channel.to_le_bytes());
    data.extend_from_slice(&contract.0);
    phala_primitives::hashing::blake2_256(&data)
}

/// The plaintext of a command's or an instantiation's envelope.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SealedInput {
    /// The account that must submit it: a copied envelope submitted by anyone else is
    /// refused, so it never runs with another caller.
    pub origin: [u8; 32],
    /// Selector and SCALE arguments.
    pub input: Vec<u8>,
    /// An X25519 key of the caller's: the result and events come back sealed to it.
    pub reply_key: Option<[u8; 32]>,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum CommandStatus {
    /// Ran and returned without REVERT: its changes are kept.
    #[codec(index = 0)]
    Success,
    /// The contract returned with REVERT: nothing changed.
    #[codec(index = 1)]
    Reverted,
    #[codec(index = 2)]
    OutOfGas,
    /// The contract trapped (a panic in ink!), or a host function refused it.
    #[codec(index = 3)]
    Trapped,
    /// The sealed input did not open, or was made for another origin.
    #[codec(index = 4)]
    BadInput,
    /// The code, the contract or the cluster key is missing.
    #[codec(index = 5)]
    NotFound,
    /// The storage it would add costs more than the deposit allowed.
    #[codec(index = 6)]
    StorageDepositLimitExhausted,
    /// It would change more than [`MAX_EFFECTS`] contracts' storage, or create or terminate
    /// that many: nothing changed.
    #[codec(index = 7)]
    TooManyContracts,
}

impl CommandStatus {
    pub fn is_success(&self) -> bool {
        matches!(self, CommandStatus::Success)
    }
}

/// What a cluster worker tells the chain about one command.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ContractReport {
    #[codec(index = 0)]
    Executed {
        id: u64,
        contract: H256,
        status: CommandStatus,
        gas_used: u64,
        /// After a successful instantiation: the contract key's public keys.
        contract_keys: Option<([u8; 32], [u8; 32])>,
        /// The result and events, sealed to the caller's reply key ([`ExecutionOutput`]).
        output: Option<Envelope>,
        /// What a successful command did to contracts other than running code: storage grown
        /// or shrunk, contracts it instantiated, contracts it terminated.
        effects: Effects,
        /// For a [`ContractCommand::Deliver`]: the return data, in the clear (at most
        /// [`MAX_REPLY`] bytes; `None` if longer, or for any other command).
        reply: Option<Vec<u8>>,
    },
}

impl ContractReport {
    /// Decodes a report (bounded), also in the layout from before contract messages (no
    /// `Effects::sent`, no `reply`): a report a worker queued before its chain upgraded, or
    /// one in an old block a node replays, settles as it did then.
    pub fn decode_any(payload: &[u8]) -> Result<ContractReport, parity_scale_codec::Error> {
        use parity_scale_codec::DecodeLimit;
        match Self::decode_all_with_depth_limit(8, &mut &payload[..]) {
            Ok(report) => Ok(report),
            Err(e) => legacy::Report::decode_all_with_depth_limit(8, &mut &payload[..])
                .map(Into::into)
                .map_err(|_| e),
        }
    }
}

/// The report's layout before contract messages.
mod legacy {
    use super::*;

    #[derive(Decode)]
    pub enum Report {
        #[codec(index = 0)]
        Executed {
            id: u64,
            contract: H256,
            status: CommandStatus,
            gas_used: u64,
            contract_keys: Option<([u8; 32], [u8; 32])>,
            output: Option<Envelope>,
            effects: Effects,
        },
    }

    #[derive(Decode)]
    pub struct Effects {
        storage: Vec<(H256, i64)>,
        instantiated: Vec<NewContract>,
        terminated: Vec<(H256, [u8; 32])>,
        code_changed: Vec<(H256, H256)>,
    }

    impl From<Report> for ContractReport {
        fn from(report: Report) -> Self {
            let Report::Executed {
                id,
                contract,
                status,
                gas_used,
                contract_keys,
                output,
                effects,
            } = report;
            ContractReport::Executed {
                id,
                contract,
                status,
                gas_used,
                contract_keys,
                output,
                effects: super::Effects {
                    storage: effects.storage,
                    instantiated: effects.instantiated,
                    terminated: effects.terminated,
                    code_changed: effects.code_changed,
                    sent: Vec::new(),
                },
                reply: None,
            }
        }
    }
}

/// Longest return data a delivered message's report carries back.
pub const MAX_REPLY: usize = 4 * 1024;
/// Most messages to other chains one command sends.
pub const MAX_SENT: usize = 8;
/// Longest input of a message to another chain.
pub const MAX_MESSAGE_INPUT: usize = 4 * 1024;
/// Most bytes of inputs one command's messages carry together, so that a report (sealed
/// output, effects, messages) always fits one queue message.
pub const MAX_SENT_BYTES: usize = 16 * 1024;

/// Most entries in each list of [`Effects`]: a command that touches more contracts fails.
pub const MAX_EFFECTS: usize = 64;

/// The chain-visible side of a successful command: what it needs to keep storage deposits
/// and its list of contracts right. Empty for a failed command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Effects {
    /// Net storage bytes (keys and values) each contract gained (positive) or freed
    /// (negative); contracts whose storage did not change in size are left out.
    pub storage: Vec<(H256, i64)>,
    /// Contracts instantiated by contracts during the command (the command's own
    /// instantiation is not listed: its keys are in `contract_keys`).
    pub instantiated: Vec<NewContract>,
    /// Contracts that terminated, each with the account it named for its deposits.
    pub terminated: Vec<(H256, [u8; 32])>,
    /// Contracts that replaced their code (`set_code_hash`), with the new code hash.
    pub code_changed: Vec<(H256, H256)>,
    /// Messages to contracts on other chains (`xcm_send`), in the order sent.
    pub sent: Vec<OutgoingMessage>,
}

/// A message a contract sent to a contract on another chain, for the bridge to carry.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct OutgoingMessage {
    /// The contract that sent it.
    pub sender: H256,
    /// This chain's channel end it leaves by.
    pub channel: u32,
    /// The contract it is for, on the other chain.
    pub contract: H256,
    /// Its input there: selector and SCALE arguments.
    pub input: Vec<u8>,
    pub gas_limit: u64,
    /// Most storage bytes the call may pay a deposit for there.
    pub storage_bytes: u64,
    /// Whether (and how) the outcome comes back to the sender as `on_bridge_reply`.
    pub reply: Option<ReplyRequest>,
}

/// How a message's outcome is delivered back to its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ReplyRequest {
    /// The sender's own id for the request, passed back with the outcome.
    pub query_id: u64,
    pub gas_limit: u64,
    pub storage_bytes: u64,
}

impl Effects {
    /// Whether every list is within [`MAX_EFFECTS`].
    pub fn is_bounded(&self) -> bool {
        self.storage.len() <= MAX_EFFECTS
            && self.instantiated.len() <= MAX_EFFECTS
            && self.terminated.len() <= MAX_EFFECTS
            && self.code_changed.len() <= MAX_EFFECTS
            && self.sent.len() <= MAX_SENT
            && self.sent.iter().all(|m| m.input.len() <= MAX_MESSAGE_INPUT)
            && self
                .sent
                .iter()
                .map(|m| m.input.len())
                .fold(0usize, usize::saturating_add)
                <= MAX_SENT_BYTES
    }
}

/// A contract a contract instantiated: the chain records it so it can be called directly.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct NewContract {
    pub contract: H256,
    pub code_hash: H256,
    /// The contract that instantiated it.
    pub deployer: H256,
    /// Its contract key's sr25519 and x25519 public keys.
    pub pubkey: [u8; 32],
    pub ecdh_pubkey: [u8; 32],
}

/// What a caller learns about its command, sealed to its reply key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ExecutionOutput {
    pub id: u64,
    pub contract: H256,
    /// The contract's `seal_return` flags (1 = REVERT) and data.
    pub flags: u32,
    pub data: Vec<u8>,
    /// Why it failed, if it did (a trap message, "out of gas", …).
    pub error: Option<String>,
    /// Events, each `(topics, data)`, in order.
    pub events: Vec<(Vec<[u8; 32]>, Vec<u8>)>,
    pub gas_used: u64,
}

/// What a contract query answers (inside the query reply's `Ok`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ContractQueryResult {
    pub flags: u32,
    pub data: Vec<u8>,
    pub gas_used: u64,
    /// Debug messages (panic messages of Debug builds).
    pub debug_message: String,
}
