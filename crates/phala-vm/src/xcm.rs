//! The part of XCM a contract uses to message a contract on another phala chain through the
//! bridge (docs/bridge.md, *Contracts across chains*): `seal0.xcm_send(dest, msg)` with
//!
//! - `dest` = `Location { parents: 1, interior: X2(GeneralIndex(channel),
//!   AccountId32 { network: None, id: contract }) }`: the contract `id` on the chain at the
//!   other end of this chain's bridge channel `channel`;
//! - `msg` = `[Transact { origin_kind, require_weight_at_most, call }]`, optionally followed by
//!   `ReportTransactStatus(QueryResponseInfo { destination: Here, query_id, max_weight })`.
//!
//! `call` is the input the remote contract is called with (its selector and SCALE arguments).
//! A weight's `ref_time` is the gas limit there, its `proof_size` the most storage bytes the
//! call may pay a deposit for. `ReportTransactStatus` asks for the outcome to come back to
//! the sender as a call of its `on_bridge_reply(query_id, outcome)` message, run with
//! `max_weight`.
//!
//! Versions 3 and 4 of both types decode (they encode this subset identically), and version
//! 5, whose `Transact` has `fallback_max_weight: Option<Weight>` instead. Anything else in the
//! message is refused: a contract is never told "sent" for instructions nobody would run.

use parity_scale_codec::{Compact, Decode, Input};

/// Longest `call` a message may carry.
pub const MAX_CALL_LEN: usize = 4 * 1024;
/// Longest encoded destination: version, parents, junctions, a 17-byte compact index and an
/// account junction.
pub const MAX_DEST_LEN: usize = 64;
/// The most gas a call from another chain (or a reply) may have: the receiving chain answers
/// more with `BadLimits`, so `xcm_send` refuses it here.
pub const MAX_GAS: u64 = 1_000_000_000;
/// The most storage bytes such a call may pay a deposit for, likewise.
pub const MAX_STORAGE_BYTES: u64 = 16 * 1024;
/// Gas a `Transact` without a weight (version 5's `fallback_max_weight: None`) runs with.
pub const DEFAULT_GAS: u64 = MAX_GAS;
/// Storage bytes such a `Transact` may pay for.
pub const DEFAULT_STORAGE_BYTES: u64 = 1024;

/// A message for a contract on another chain, as the sending contract asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeMessage {
    /// This chain's channel end it leaves by.
    pub channel: u32,
    /// The contract there.
    pub contract: [u8; 32],
    /// Its input: selector and SCALE arguments.
    pub call: Vec<u8>,
    pub gas_limit: u64,
    pub storage_bytes: u64,
    pub reply: Option<ReplyRequest>,
}

/// What the sender asked for its reply: `on_bridge_reply(query_id, outcome)`, run with these
/// limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyRequest {
    pub query_id: u64,
    pub gas_limit: u64,
    pub storage_bytes: u64,
}

/// Why a message was refused, as the contract's debug message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "xcm_send: {}", self.0)
    }
}

const TRANSACT: u8 = 6;
const REPORT_TRANSACT_STATUS: u8 = 35;
const JUNCTIONS_HERE: u8 = 0;
const JUNCTIONS_X2: u8 = 2;
const GENERAL_INDEX: u8 = 5;
const ACCOUNT_ID32: u8 = 1;

/// Decodes `dest` (read from the contract's memory, at most [`MAX_DEST_LEN`] bytes, trailing
/// bytes ignored as the host cannot know its length) and `msg` (exactly its bytes).
pub fn decode(dest: &[u8], msg: &[u8]) -> Result<BridgeMessage, Refused> {
    let (channel, contract) = destination(&mut &dest[..])?;
    let input = &mut &msg[..];
    let version = byte(input)?;
    if !(3..=5).contains(&version) {
        return Err(Refused("the message must be XCM version 3, 4 or 5"));
    }
    let count = Compact::<u32>::decode(input)
        .map_err(|_| Refused("the message does not decode"))?
        .0;
    if !(1..=2).contains(&count) {
        return Err(Refused(
            "the message must be a Transact, optionally followed by ReportTransactStatus",
        ));
    }
    if byte(input)? != TRANSACT {
        return Err(Refused("the message's first instruction must be Transact"));
    }
    let _origin_kind =
        byte(input).and_then(|k| (k <= 3).then_some(k).ok_or(Refused("unknown origin kind")))?;
    let (gas_limit, storage_bytes) = if version == 5 {
        match byte(input)? {
            0 => (DEFAULT_GAS, DEFAULT_STORAGE_BYTES),
            1 => weight(input)?,
            _ => return Err(Refused("the message does not decode")),
        }
    } else {
        weight(input)?
    };
    let len = Compact::<u32>::decode(input)
        .map_err(|_| Refused("the message does not decode"))?
        .0 as usize;
    if len > MAX_CALL_LEN {
        return Err(Refused("the call is longer than 4 KiB"));
    }
    let mut call = vec![0u8; len];
    input
        .read(&mut call)
        .map_err(|_| Refused("the message does not decode"))?;
    let reply = if count == 2 {
        if byte(input)? != REPORT_TRANSACT_STATUS {
            return Err(Refused(
                "the second instruction may only be ReportTransactStatus",
            ));
        }
        // The reply always goes back to the sender: `destination` must say so.
        if byte(input)? != 0 || byte(input)? != JUNCTIONS_HERE {
            return Err(Refused(
                "ReportTransactStatus's destination must be Here (the sender)",
            ));
        }
        let query_id = Compact::<u64>::decode(input)
            .map_err(|_| Refused("the message does not decode"))?
            .0;
        let (gas_limit, storage_bytes) = weight(input)?;
        Some(ReplyRequest {
            query_id,
            gas_limit,
            storage_bytes,
        })
    } else {
        None
    };
    if !input.is_empty() {
        return Err(Refused("the message has trailing bytes"));
    }
    let within = |gas: u64, bytes: u64| (1..=MAX_GAS).contains(&gas) && bytes <= MAX_STORAGE_BYTES;
    if !within(gas_limit, storage_bytes)
        || reply.is_some_and(|r| !within(r.gas_limit, r.storage_bytes))
    {
        return Err(Refused(
            "a weight's ref_time (gas) must be 1 to 1e9, its proof_size (storage bytes) at most 16 KiB",
        ));
    }
    Ok(BridgeMessage {
        channel,
        contract,
        call,
        gas_limit,
        storage_bytes,
        reply,
    })
}

fn destination(input: &mut &[u8]) -> Result<(u32, [u8; 32]), Refused> {
    const SHAPE: &str =
        "dest must be (parents: 1, X2(GeneralIndex(channel), AccountId32 { network: None, id }))";
    let version = byte(input)?;
    if !(3..=5).contains(&version) {
        return Err(Refused("dest must be an XCM version 3, 4 or 5 location"));
    }
    if byte(input)? != 1 || byte(input)? != JUNCTIONS_X2 || byte(input)? != GENERAL_INDEX {
        return Err(Refused(SHAPE));
    }
    let channel = Compact::<u128>::decode(input)
        .map_err(|_| Refused(SHAPE))?
        .0;
    let channel = u32::try_from(channel).map_err(|_| Refused("no such channel"))?;
    // `network: None`.
    if byte(input)? != ACCOUNT_ID32 || byte(input)? != 0 {
        return Err(Refused(SHAPE));
    }
    let mut contract = [0u8; 32];
    input.read(&mut contract).map_err(|_| Refused(SHAPE))?;
    Ok((channel, contract))
}

fn weight(input: &mut &[u8]) -> Result<(u64, u64), Refused> {
    let bad = |_| Refused("the message's weight does not decode");
    let ref_time = Compact::<u64>::decode(input).map_err(bad)?.0;
    let proof_size = Compact::<u64>::decode(input).map_err(bad)?.0;
    Ok((ref_time, proof_size))
}

fn byte(input: &mut &[u8]) -> Result<u8, Refused> {
    input
        .read_byte()
        .map_err(|_| Refused("the message does not decode"))
}

/// The encodings `decode` takes, for tests and for tools that build messages.
pub mod encode {
    use parity_scale_codec::{Compact, Encode};

    /// `dest` for `contract` behind `channel`, as XCM version 4.
    pub fn dest(channel: u32, contract: &[u8; 32]) -> Vec<u8> {
        let mut out = vec![4, 1, super::JUNCTIONS_X2, super::GENERAL_INDEX];
        Compact(u128::from(channel)).encode_to(&mut out);
        out.extend_from_slice(&[super::ACCOUNT_ID32, 0]);
        out.extend_from_slice(contract);
        out
    }

    /// A version 4 message: `Transact` (origin kind `SovereignAccount`) and, with `reply`,
    /// `ReportTransactStatus` back to the sender.
    pub fn message(
        call: &[u8],
        (gas_limit, storage_bytes): (u64, u64),
        reply: Option<(u64, u64, u64)>,
    ) -> Vec<u8> {
        let mut out = vec![4];
        Compact(if reply.is_some() { 2u32 } else { 1 }).encode_to(&mut out);
        out.extend_from_slice(&[super::TRANSACT, 1]);
        Compact(gas_limit).encode_to(&mut out);
        Compact(storage_bytes).encode_to(&mut out);
        call.to_vec().encode_to(&mut out);
        if let Some((query_id, gas, bytes)) = reply {
            out.extend_from_slice(&[super::REPORT_TRANSACT_STATUS, 0, super::JUNCTIONS_HERE]);
            Compact(query_id).encode_to(&mut out);
            Compact(gas).encode_to(&mut out);
            Compact(bytes).encode_to(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_request_with_a_reply_decodes() {
        let contract = [7u8; 32];
        let got = decode(
            &encode::dest(3, &contract),
            &encode::message(b"\x01\x02\x03\x04", (5_000, 100), Some((9, 6_000, 50))),
        )
        .unwrap();
        assert_eq!(
            got,
            BridgeMessage {
                channel: 3,
                contract,
                call: vec![1, 2, 3, 4],
                gas_limit: 5_000,
                storage_bytes: 100,
                reply: Some(ReplyRequest {
                    query_id: 9,
                    gas_limit: 6_000,
                    storage_bytes: 50
                }),
            }
        );
        let plain = decode(
            &encode::dest(0, &contract),
            &encode::message(b"", (1, 2), None),
        )
        .unwrap();
        assert_eq!(plain.reply, None);
    }

    /// A `VersionedXcm::V5` from staging-xcm: `Transact` with `fallback_max_weight`.
    #[test]
    fn version_five_transact_decodes() {
        let mut msg = vec![5, 4, TRANSACT, 1, 0];
        msg.extend_from_slice(&[8, 0xde, 0xad]);
        let got = decode(&encode::dest(1, &[1; 32]), &msg).unwrap();
        assert_eq!(
            (got.gas_limit, got.storage_bytes, got.call),
            (DEFAULT_GAS, DEFAULT_STORAGE_BYTES, vec![0xde, 0xad])
        );
    }

    #[test]
    fn other_shapes_are_refused_with_a_reason() {
        let dest = encode::dest(1, &[1; 32]);
        let msg = encode::message(b"ab", (1, 1), None);
        // Parents 0: this chain, not across a channel.
        let mut here = dest.clone();
        here[1] = 0;
        assert!(decode(&here, &msg).unwrap_err().0.contains("parents: 1"));
        // A WithdrawAsset first.
        let mut other = msg.clone();
        other[2] = 0;
        assert!(decode(&dest, &other).unwrap_err().0.contains("Transact"));
        let mut trailing = msg.clone();
        trailing.push(0);
        assert_eq!(
            decode(&dest, &trailing).unwrap_err().0,
            "the message has trailing bytes"
        );
        assert!(decode(&dest, &[2, 4]).unwrap_err().0.contains("version"));
        let long = encode::message(&vec![0; MAX_CALL_LEN + 1], (1, 1), None);
        assert!(decode(&dest, &long).unwrap_err().0.contains("4 KiB"));
        // The reply must go back to the sender.
        let mut elsewhere = encode::message(b"", (1, 1), Some((1, 1, 1)));
        let at = elsewhere.len() - 5;
        elsewhere[at] = 1;
        assert!(decode(&dest, &elsewhere).unwrap_err().0.contains("Here"));
    }

    #[test]
    fn weights_past_what_the_other_chain_takes_are_refused() {
        let dest = encode::dest(1, &[1; 32]);
        for (weight, reply) in [
            ((MAX_GAS + 1, 0), None),
            ((0, 0), None),
            ((1, MAX_STORAGE_BYTES + 1), None),
            ((1, 1), Some((0, MAX_GAS + 1, 0))),
        ] {
            let refused = decode(&dest, &encode::message(b"", weight, reply)).unwrap_err();
            assert!(refused.0.contains("1e9"), "{refused}");
        }
    }

    proptest! {
        /// Arbitrary bytes never panic, and what decodes re-encodes to the same message.
        #[test]
        fn arbitrary_bytes_never_panic(dest in proptest::collection::vec(any::<u8>(), 0..80),
                                       msg in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&dest, &msg);
        }

        #[test]
        fn encodings_round_trip(channel in any::<u32>(), contract in any::<[u8; 32]>(),
                                call in proptest::collection::vec(any::<u8>(), 0..300),
                                gas in 1..=MAX_GAS, bytes in 0..=MAX_STORAGE_BYTES,
                                reply in proptest::option::of(
                                    (any::<u64>(), 1..=MAX_GAS, 0..=MAX_STORAGE_BYTES))) {
            let got = decode(&encode::dest(channel, &contract),
                             &encode::message(&call, (gas, bytes), reply)).unwrap();
            prop_assert_eq!(got.channel, channel);
            prop_assert_eq!(got.contract, contract);
            prop_assert_eq!(got.call, call);
            prop_assert_eq!((got.gas_limit, got.storage_bytes), (gas, bytes));
            prop_assert_eq!(got.reply.map(|r| (r.query_id, r.gas_limit, r.storage_bytes)), reply);
        }
    }
}
