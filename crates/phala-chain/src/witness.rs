//! The node's memory of workers' delivered messages, so it can prove a worker double-signed.
//!
//! A worker's messages are applied in sequence; a second, different message with a used
//! sequence is refused by the pool as stale, and without this nothing would ever look at it
//! again. A genuine worker never signs one (it seals its state before a message leaves), so
//! such a message means its sealed state was rolled back or copied. The node remembers the
//! messages of recent finalized blocks and, when it refuses a stale one that differs from
//! the delivered one, pools the fee-free `Computation::report_double_sign` with both.
//!
//! Bounded: the most recent [`CAPACITY`] messages and [`MAX_BYTES`] of them, oldest
//! forgotten first (a worker filling blocks with large messages costs the node no more).
//! The first message seen with a sequence is kept: any other is the evidence.

use std::collections::{HashMap, VecDeque};

use phala_mq::{MessageOrigin, SignedMessage};
use phala_primitives::OpaqueExtrinsic;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::{computation, message_queue};

/// Messages remembered: at the chain's limits about a quarter hour of busy blocks.
pub const CAPACITY: usize = 16_384;
/// Payload bytes remembered.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

type Key = (MessageOrigin, u64);

#[derive(Debug, Default)]
pub struct MessageWitness {
    delivered: HashMap<Key, SignedMessage>,
    order: VecDeque<Key>,
    bytes: usize,
}

fn size(m: &SignedMessage) -> usize {
    m.message
        .payload
        .len()
        .saturating_add(m.message.destination.len())
        .saturating_add(m.signature.len())
}

/// The worker messages an extrinsic carries, if it is a delivery.
fn messages(bytes: &[u8]) -> Vec<SignedMessage> {
    match phala_runtime::executive::decode_extrinsic(bytes).map(|xt| xt.function) {
        Ok(RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_message {
            signed_message,
        })) => vec![signed_message],
        Ok(RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_messages {
            signed_messages,
        })) => signed_messages,
        _ => Vec::new(),
    }
}

impl MessageWitness {
    /// Remembers the worker messages of a finalized block's extrinsics.
    pub fn record(&mut self, extrinsics: &[OpaqueExtrinsic]) {
        for signed in extrinsics.iter().flat_map(|xt| messages(xt.as_bytes())) {
            if !matches!(signed.message.sender, MessageOrigin::Worker(_)) {
                continue;
            }
            let key = (signed.message.sender.clone(), signed.sequence);
            if self.delivered.contains_key(&key) {
                continue;
            }
            self.bytes = self.bytes.saturating_add(size(&signed));
            self.delivered.insert(key.clone(), signed);
            self.order.push_back(key);
            while self.order.len() > CAPACITY || self.bytes > MAX_BYTES {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(m) = self.delivered.remove(&old) {
                    self.bytes = self.bytes.saturating_sub(size(&m));
                }
            }
        }
    }

    /// The double-signing report a refused delivery proves, if any of its messages differs
    /// from the delivered one with its sequence.
    pub fn evidence(&self, refused: &[u8]) -> Option<RuntimeCall> {
        messages(refused).into_iter().find_map(|second| {
            let key = (second.message.sender.clone(), second.sequence);
            let first = self.delivered.get(&key)?;
            (first.message != second.message).then(|| {
                RuntimeCall::Computation(computation::Call::report_double_sign {
                    first: first.clone(),
                    second,
                })
            })
        })
    }
}
