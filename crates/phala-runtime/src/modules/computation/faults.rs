//! Stake slashing for proven misbehaviour (docs/protocol.md, *Computation*).
//!
//! **A worker that signs two different messages with one sequence.** A genuine worker
//! seals its state before any message it signed leaves the enclave, so even a crash never
//! makes it sign a second message with a used sequence; two such messages prove its sealed
//! state was rolled back or copied to a second machine, i.e. its operator tampered with it.
//! Anyone may submit both (unsigned, fee-free, like consensus equivocation): the worker's
//! pool loses `DoubleSignSlash` of the session's stake to the treasury, the worker stops
//! computing, and its key may never compute again (its operator must register a fresh one).
//!
//! **Gatekeepers whose settlements differ.** Honest gatekeepers replay the same proven
//! events with the same deterministic arithmetic, so their settlements of a block are
//! byte-identical; a copy that differs comes from a broken or compromised enclave. When a
//! block's copies can no longer arrive (its digest leaves the chain's memory), the chain
//! judges them. If one digest has a strict majority of the gatekeepers that sent one, every
//! gatekeeper that sent another is faulty. If none has, nobody is slashed for it: a split
//! vote proves that someone is faulty but not who, and stake is slashed only for proven
//! misbehaviour (the split shows in `SettlementJudged` and the nodes' mismatch metric, for
//! governance to look into). A gatekeeper that sent two different copies is faulty either
//! way. Silence is no evidence (a gatekeeper may be offline or catching up). A faulty
//! gatekeeper's operator, a validator, loses `SlashPercent` of its bond to the treasury
//! through [`Hooks::on_gatekeeper_fault`] (the operator recorded with the vote, so leaving
//! first dodges nothing), and the gatekeeper is expelled, the master key rotating — unless
//! it is the last gatekeeper, whose key could not be handed on. One fault costs one slash,
//! not one per block it kept voting (`FaultPunished`). Each gatekeeper has room for two
//! votes a block: two different ones prove a fault, more would crowd out the others'.

use parity_scale_codec::Encode;
use phala_mq::{MessageOrigin, SignedMessage};
use phala_primitives::{AccountId32, BlockNumber, H256};

use super::{
    DOUBLE_SIGN_SLASH, DOUBLE_SIGNERS, Error, Event, FAULT_PUNISHED, Hooks, SESSIONS,
    SETTLEMENT_VOTES, WorkerState, force_stop, slash_stake,
};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{registry, system};

/// What a valid double-signing report proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoubleSign {
    pub worker: [u8; 32],
    pub sequence: u64,
}

/// Checks two messages as evidence that one worker signed both with one sequence.
pub fn check_double_sign(
    ext: &Ext,
    first: &SignedMessage,
    second: &SignedMessage,
) -> Result<DoubleSign, Error> {
    let MessageOrigin::Worker(worker) = first.message.sender else {
        return Err(Error::InvalidEvidence);
    };
    if second.message.sender != first.message.sender
        || second.sequence != first.sequence
        // Signatures are randomized: one message signed twice is no offence.
        || second.message == first.message
        || !first.message.within_bounds()
        || !second.message.within_bounds()
    {
        return Err(Error::InvalidEvidence);
    }
    if DOUBLE_SIGNERS.contains(ext, &worker) {
        return Err(Error::AlreadyReported);
    }
    // Only workers the chain knows: a fee-free report about a made-up key would be free
    // storage for anyone.
    if registry::worker(ext, &worker).is_none() && !SESSIONS.contains(ext, &worker) {
        return Err(Error::WorkerNotRegistered);
    }
    let genesis = system::block_hash(ext, 0).ok_or(Error::InvalidEvidence)?;
    if !first.verify_with(&genesis, &worker) || !second.verify_with(&genesis, &worker) {
        return Err(Error::InvalidEvidence);
    }
    Ok(DoubleSign {
        worker,
        sequence: first.sequence,
    })
}

/// Punishes a proven double signing: slashes the session's stake, stops the worker and bars
/// its key from computing. Validates before the first write.
pub fn punish_double_sign<H: Hooks>(
    ext: &mut Ext,
    first: &SignedMessage,
    second: &SignedMessage,
) -> DispatchResult {
    let DoubleSign { worker, sequence } = check_double_sign(ext, first, second)?;
    DOUBLE_SIGNERS.insert(ext, &worker, &system::block_number(ext));
    let mut slashed = 0;
    if let Some(session) = SESSIONS.get(ext, &worker) {
        let amount =
            phala_tokenomics::perbill_floor(session.stake, DOUBLE_SIGN_SLASH.get_or_default(ext));
        if matches!(session.state, WorkerState::Idle | WorkerState::Unresponsive) {
            force_stop(ext, &worker, session)?;
        }
        slashed = slash_stake::<H>(ext, &worker, amount)?;
    }
    ext.deposit_event(Event::WorkerDoubleSigned {
        worker,
        sequence,
        slashed,
    });
    Ok(())
}

/// Most copies of one block's settlement the chain keeps to judge: two per gatekeeper
/// (a second, different copy from the same one is itself a fault).
pub const MAX_VOTES: usize = 2 * registry::gatekeeper::MAX_GATEKEEPERS;

/// One gatekeeper's copy of a block's settlement: who sent it, its digest, and the
/// operator who answers for the gatekeeper, as registered when the copy came (a later
/// re-registration or revocation cannot move or dodge the slash).
pub type Vote = ([u8; 32], H256, Option<AccountId32>);

/// Records that `gatekeeper` sent a copy of `block`'s settlement with `digest`. Returns
/// false if it had sent this very copy before (a resubmission, not news).
pub(super) fn record_vote(
    ext: &mut Ext,
    block: BlockNumber,
    gatekeeper: [u8; 32],
    digest: H256,
) -> bool {
    let mut votes = SETTLEMENT_VOTES.get(ext, &block).unwrap_or_default();
    if votes
        .iter()
        .any(|(g, d, _)| *g == gatekeeper && *d == digest)
    {
        return false;
    }
    // Two different copies already prove a gatekeeper faulty; more would only crowd out
    // the others' votes, so each gatekeeper has room for two and every gatekeeper's fits.
    let cast = votes.iter().filter(|(g, _, _)| *g == gatekeeper).count();
    if cast < 2 && votes.len() < MAX_VOTES {
        let operator = registry::worker(ext, &gatekeeper).and_then(|w| w.operator);
        votes.push((gatekeeper, digest, operator));
        SETTLEMENT_VOTES.insert(ext, &block, &votes);
    }
    true
}

/// The gatekeepers the votes prove faulty (see the module's docs), and the majority digest
/// if there is one. Pure, so the rule is tested on its own.
pub fn judge(votes: &[([u8; 32], H256)]) -> (Option<H256>, Vec<[u8; 32]>) {
    let mut voters: Vec<[u8; 32]> = votes.iter().map(|(g, _)| *g).collect();
    voters.sort();
    voters.dedup();
    let contradicted: Vec<[u8; 32]> = voters
        .iter()
        .filter(|g| {
            let mut digests = votes.iter().filter(|(v, _)| v == *g).map(|(_, d)| d);
            digests.next().is_some_and(|d| digests.any(|e| e != d))
        })
        .copied()
        .collect();
    let mut digests: Vec<H256> = votes.iter().map(|(_, d)| *d).collect();
    digests.sort();
    digests.dedup();
    let count = |digest: &H256| {
        voters
            .iter()
            .filter(|g| votes.iter().any(|(v, d)| v == *g && d == digest))
            .count()
    };
    let majority = digests
        .iter()
        .find(|d| count(d).saturating_mul(2) > voters.len())
        .copied();
    let faulty = voters
        .into_iter()
        .filter(|g| {
            contradicted.contains(g)
                || majority.is_some_and(|m| votes.iter().any(|(v, d)| v == g && *d != m))
        })
        .collect();
    (majority, faulty)
}

/// Judges `block`'s settlement copies, now that no more can arrive, and forgets them. A
/// faulty gatekeeper that is still one is slashed through its operator and expelled (the
/// master key rotates, as for any removal): it neither votes nor is slashed again until
/// governance admits it anew. O(gatekeepers).
pub(super) fn judge_block<H: Hooks>(ext: &mut Ext, block: BlockNumber) {
    let Some(votes) = SETTLEMENT_VOTES.get(ext, &block) else {
        return;
    };
    SETTLEMENT_VOTES.remove(ext, &block);
    let plain: Vec<([u8; 32], H256)> = votes.iter().map(|(g, d, _)| (*g, *d)).collect();
    let (majority, faulty) = judge(&plain);
    // A majority with nobody against it is agreement: nothing to say.
    if majority.is_some() && faulty.is_empty() {
        return;
    }
    let mut punished: u32 = 0;
    for gatekeeper in &faulty {
        // One fault, one punishment: votes cast before it was punished (for blocks up to
        // then) are not punished again, whether it left, was expelled or was re-admitted.
        // Leaving before the judgment dodges nothing: the operator recorded with the vote
        // is slashed all the same.
        if FAULT_PUNISHED
            .get(ext, gatekeeper)
            .is_some_and(|at| at >= block)
        {
            continue;
        }
        FAULT_PUNISHED.insert(ext, gatekeeper, &system::block_number(ext));
        let operator = votes
            .iter()
            .find(|(g, _, _)| g == gatekeeper)
            .and_then(|(_, _, o)| *o);
        let offence = phala_primitives::hashing::blake2_256(
            &(b"phala/computation/settlement-fault", block, gatekeeper).encode(),
        );
        // A slash that fails (the operator holds no bond) must not stop the expulsion
        // nor the others' punishment.
        let slashed = ext
            .transactional(|ext| H::on_gatekeeper_fault(ext, gatekeeper, operator, offence))
            .unwrap_or(0);
        // Never the last gatekeeper: with none left the master key could not be handed
        // on and would be lost for good. Governance decides then; the fault is on record.
        let others = registry::gatekeeper::GATEKEEPERS
            .get_or_default(ext)
            .iter()
            .any(|g| g != gatekeeper);
        if registry::is_gatekeeper(ext, gatekeeper) && others {
            // Removal rotates the master key; if that cannot happen now (a full outbound
            // queue), the removal is undone and the gatekeeper stays, its punishment
            // recorded so it is not slashed again for the same votes.
            let _ = ext.transactional(|ext| registry::expel_gatekeeper(ext, *gatekeeper));
        }
        punished = punished.saturating_add(1);
        ext.deposit_event(Event::GatekeeperFaulty {
            block,
            gatekeeper: *gatekeeper,
            slashed,
        });
    }
    ext.deposit_event(Event::SettlementJudged {
        block,
        majority,
        faulty: punished,
    });
}
