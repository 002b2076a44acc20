//! Checking and applying extrinsics: the signed extensions, fee payment and dispatch.
//!
//! The signed extensions, in the order clients declare them:
//! `CheckNonZeroSender` (no all-zero signer), `CheckSpecVersion` / `CheckTxVersion` /
//! `CheckGenesis` (signed over, so a transaction for another runtime or chain has a bad
//! proof), `CheckMortality` (the birth block's hash is signed over and must be recent),
//! `CheckNonce` (equal to the account's nonce; higher ones wait in the pool), `CheckWeight`
//! (fits a block) and `ChargeTransactionPayment` (the fee is payable).

use parity_scale_codec::{DecodeLimit, Encode};
use phala_primitives::extrinsic::{AdditionalSigned, signing_message};
use phala_primitives::{AccountId32, Balance, BlockNumber, Era, H256, SignedExtra};

use crate::dispatch::{DispatchClass, DispatchInfo, Origin};
use crate::modules::system::{self, Phase};
use crate::modules::{balances, transaction_payment, weights};
use crate::validity::{
    InvalidTransaction, TransactionValidityError, UnknownTransaction, ValidTransaction,
};
use crate::version::TRANSACTION_VERSION;
use crate::{Ext, MAX_CALL_DEPTH, RuntimeCall, UncheckedExtrinsic};

/// Chain-wide facts the runtime cannot read from state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub genesis_hash: H256,
}

/// Decodes an extrinsic's wire bytes. Only the canonical encoding is accepted, so the bytes a
/// client signed and hashed are exactly the ones the chain re-encodes.
pub fn decode_extrinsic(bytes: &[u8]) -> Result<UncheckedExtrinsic, parity_scale_codec::Error> {
    if bytes.len() > phala_primitives::block::MAX_EXTRINSIC_LEN {
        return Err("Extrinsic exceeds the maximum length".into());
    }
    let xt = UncheckedExtrinsic::decode_all_with_depth_limit(MAX_CALL_DEPTH, &mut &bytes[..])?;
    if xt.encode() != bytes {
        return Err("Extrinsic is not canonically encoded".into());
    }
    Ok(xt)
}

/// Whether a nonce ahead of the account's may wait (in the pool) or must be refused (in a
/// block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Validate,
    Apply,
}

/// A signed extrinsic that passed every check.
#[derive(Clone, Debug)]
pub struct Checked {
    pub who: AccountId32,
    pub extra: SignedExtra,
    pub call: RuntimeCall,
    pub info: DispatchInfo,
    pub fee: Balance,
}

fn birth_hash(ext: &Ext, ctx: &Context, birth: u64) -> Option<H256> {
    if birth == 0 {
        return Some(ctx.genesis_hash);
    }
    let n = BlockNumber::try_from(birth).ok()?;
    system::block_hash(ext, n)
}

/// Tag of the pool's `provides` for an equivocation report: one report per offence.
pub const EQUIVOCATION_TAG: &[u8] = b"phala/equivocation";
/// Pool tag of a worker's double-signing report: one per worker.
pub const DOUBLE_SIGN_TAG: &[u8] = b"phala/double-sign";
/// Pool tag of a free consent withdrawal: one per site and visitor in the pool.
pub const WITHDRAWAL_TAG: &[u8] = b"phala/analytics/withdraw";

/// The lowest priority of an operational transaction. Normal transactions' priority (their
/// tip) stays below it, so pools and block builders always take operational ones first: a
/// flood of tips cannot delay a worker's message or an equivocation report.
pub const OPERATIONAL_PRIORITY: u64 = 1 << 63;

/// Priority of an equivocation report: above everything, as consensus safety depends on it
/// and there is at most one per offence.
pub const EQUIVOCATION_PRIORITY: u64 = u64::MAX;

/// A signed transaction's priority: one more than its tip (free transactions, at 0, never
/// outrank or displace a paying one), lifted above every normal transaction's for
/// operational calls.
pub fn priority(class: DispatchClass, tip: Balance) -> u64 {
    let below = OPERATIONAL_PRIORITY.saturating_sub(1);
    let tip = u64::try_from(tip).unwrap_or(u64::MAX).min(below);
    match class {
        DispatchClass::Normal => tip.saturating_add(1).min(below),
        DispatchClass::Operational | DispatchClass::Mandatory => {
            OPERATIONAL_PRIORITY.saturating_add(tip)
        }
    }
}

/// A valid misbehaviour report: ranked above transactions, one per offence in the pool.
fn report_validity(tag: &[u8], id: &[u8]) -> ValidTransaction {
    ValidTransaction {
        priority: EQUIVOCATION_PRIORITY,
        requires: Vec::new(),
        provides: vec![[tag, id].concat()],
        longevity: 64,
        propagate: true,
    }
}

/// Validity of an unsigned, non-inherent extrinsic. Only equivocation and double-signing
/// reports may come unsigned: anyone who holds the evidence may submit it, and valid
/// evidence is its own proof of good faith.
pub fn validate_unsigned(
    ext: &Ext,
    call: &RuntimeCall,
) -> Result<ValidTransaction, TransactionValidityError> {
    match call {
        RuntimeCall::Validators(crate::modules::validators::Call::report_equivocation {
            evidence,
        }) => {
            let offence =
                crate::modules::validators::check_evidence(ext, evidence).map_err(|e| match e {
                    crate::modules::validators::Error::AlreadyReported => InvalidTransaction::Stale,
                    _ => InvalidTransaction::BadProof,
                })?;
            Ok(report_validity(EQUIVOCATION_TAG, &offence.id))
        }
        RuntimeCall::Computation(crate::modules::computation::Call::report_double_sign {
            first,
            second,
        }) => {
            use crate::modules::computation::{Error, faults};
            let proof = faults::check_double_sign(ext, first, second).map_err(|e| match e {
                Error::AlreadyReported => InvalidTransaction::Stale,
                _ => InvalidTransaction::BadProof,
            })?;
            Ok(report_validity(DOUBLE_SIGN_TAG, &proof.worker))
        }
        RuntimeCall::Analytics(crate::modules::analytics::Call::withdraw_consent {
            site,
            visitor,
            signed_at,
            signature,
            receipt,
        }) => {
            use crate::modules::analytics::{self, Error};
            // Checked as in the block the transaction would enter. Free only with the
            // cluster's receipt for the visitor's consent: keys nobody consented with
            // cannot fill the free quota.
            let map = |e| match e {
                Error::StaleWithdrawal | Error::TooSoon => InvalidTransaction::Stale,
                Error::BadSignature | Error::BadReceipt => InvalidTransaction::BadProof,
                _ => InvalidTransaction::Call,
            };
            let receipt = receipt.ok_or(InvalidTransaction::Call)?;
            analytics::check_receipt(ext, *site, visitor, &receipt).map_err(map)?;
            analytics::check_withdrawal(ext, *site, visitor, *signed_at, signature).map_err(map)?;
            if !analytics::free_withdrawal_room(ext) {
                return Err(InvalidTransaction::ExhaustsResources.into());
            }
            // Below every paying transaction: free, so it never crowds them out.
            Ok(ValidTransaction {
                priority: 0,
                requires: Vec::new(),
                provides: vec![(WITHDRAWAL_TAG, site, visitor).encode()],
                longevity: 64,
                propagate: true,
            })
        }
        call if call.is_inherent() => Err(InvalidTransaction::MandatoryValidation.into()),
        _ => Err(UnknownTransaction::NoUnsignedValidator.into()),
    }
}

/// Validity a call has beyond the signed extensions, and a pool tag it provides: an
/// off-chain message must be correctly signed and carry exactly the next sequence.
fn call_validity(ext: &Ext, call: &RuntimeCall) -> Result<Option<Vec<u8>>, InvalidTransaction> {
    match call {
        RuntimeCall::MessageQueue(crate::modules::message_queue::Call::sync_offchain_message {
            signed_message,
        }) => {
            crate::modules::message_queue::validate::<crate::Wiring>(ext, signed_message).map(Some)
        }
        RuntimeCall::MessageQueue(
            crate::modules::message_queue::Call::sync_offchain_messages { signed_messages },
        ) => crate::modules::message_queue::validate_batch::<crate::Wiring>(ext, signed_messages)
            .map(Some),
        _ => Ok(None),
    }
}

/// Runs the signed extensions over a signed extrinsic without writing anything. `current`
/// is the number of the block it would go into.
pub fn check_signed(
    ext: &Ext,
    ctx: &Context,
    xt: UncheckedExtrinsic,
    len: usize,
    mode: Mode,
) -> Result<(Checked, ValidTransaction), TransactionValidityError> {
    let Some(sig) = xt.signature else {
        return Err(if xt.function.is_inherent() {
            InvalidTransaction::MandatoryValidation.into()
        } else {
            UnknownTransaction::NoUnsignedValidator.into()
        });
    };
    let who = sig
        .address
        .account()
        .ok_or(UnknownTransaction::CannotLookup)?;
    // CheckNonZeroSender
    if who.0 == [0; 32] {
        return Err(InvalidTransaction::BadSigner.into());
    }
    let current = u64::from(system::block_number(ext));
    // CheckMortality (the birth hash), CheckGenesis, CheckSpecVersion, CheckTxVersion: all
    // enter the signed payload.
    let birth = sig.extra.era.birth(current);
    let call_bytes = xt.function.encode();
    // Signed against the runtime version in force, which upgrades change.
    let spec_version = system::active_spec_version(ext);
    let additional = |birth_hash| AdditionalSigned {
        spec_version,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: ctx.genesis_hash,
        birth_hash,
    };
    let birth_block_hash =
        birth_hash(ext, ctx, birth).ok_or(InvalidTransaction::AncientBirthBlock)?;
    let message = signing_message(&call_bytes, &sig.extra, &additional(birth_block_hash));
    if !sig.signature.verify(&message, &who) {
        // Tell an expired transaction (valid for the previous window of its era) from a
        // forged one: Substrate reports both as a bad proof, which misleads users.
        if let Era::Mortal { period, .. } = sig.extra.era {
            let expired = birth
                .checked_sub(period)
                .and_then(|earlier| birth_hash(ext, ctx, earlier))
                .map(|h| {
                    sig.signature.verify(
                        &signing_message(&call_bytes, &sig.extra, &additional(h)),
                        &who,
                    )
                })
                .unwrap_or(false);
            if expired {
                return Err(InvalidTransaction::AncientBirthBlock.into());
            }
        }
        return Err(InvalidTransaction::BadProof.into());
    }

    let info = xt.function.info();
    if info.class == DispatchClass::Mandatory {
        // Mandatory calls are inherents; nobody may sign one into a block.
        return Err(InvalidTransaction::BadMandatory.into());
    }
    // CheckWeight: the transaction alone must fit its class's share of a block.
    let total_weight = weights::EXTRINSIC_BASE.saturating_add(info.weight);
    let (max_weight, max_len) = weights::max_extrinsic(info.class);
    if !total_weight.all_lte(max_weight) || len > usize::try_from(max_len).unwrap_or(usize::MAX) {
        return Err(InvalidTransaction::ExhaustsResources.into());
    }
    // CheckNonce
    let account = system::account(ext, &who);
    let nonce = sig.extra.nonce;
    if nonce < account.nonce {
        return Err(InvalidTransaction::Stale.into());
    }
    if nonce > account.nonce && mode == Mode::Apply {
        return Err(InvalidTransaction::Future.into());
    }
    // ChargeTransactionPayment
    let fee = transaction_payment::compute_fee(len, &info, sig.extra.tip);
    if !balances::can_withdraw(ext, &who, fee) {
        return Err(InvalidTransaction::Payment.into());
    }

    // Calls with validity of their own (the pool must refuse what dispatch would refuse).
    let mut provides = vec![(who, nonce).encode()];
    if mode == Mode::Validate
        && let Some(tag) = call_validity(ext, &xt.function)?
    {
        provides.push(tag);
    }

    let requires = match nonce.checked_sub(1) {
        Some(prev) if nonce > account.nonce => vec![(who, prev).encode()],
        _ => Vec::new(),
    };
    let longevity = sig.extra.era.death(current).saturating_sub(current);
    let valid = ValidTransaction {
        priority: priority(info.class, sig.extra.tip),
        requires,
        provides,
        longevity,
        propagate: true,
    };
    Ok((
        Checked {
            who,
            extra: sig.extra,
            call: xt.function,
            info,
            fee,
        },
        valid,
    ))
}

/// What applying one extrinsic did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub success: bool,
    pub info: DispatchInfo,
    /// Total weight consumed, base weight included.
    pub weight: phala_primitives::Weight,
}

/// Why an extrinsic could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("extrinsic does not decode: {0}")]
    Undecodable(String),
    #[error("invalid transaction: {0:?}")]
    Invalid(TransactionValidityError),
    #[error("execution aborted: {0}")]
    Fatal(String),
}

fn fatal_check(ext: &Ext) -> Result<(), ApplyError> {
    match ext.fatal() {
        Some(reason) => Err(ApplyError::Fatal(reason)),
        None => Ok(()),
    }
}

/// Applies one extrinsic at position `index` of the block. An invalid extrinsic changes
/// nothing; a valid one always pays its fee and bumps the nonce, and its call's changes are
/// kept only if the call succeeds.
pub fn apply_extrinsic(
    ext: &mut Ext,
    ctx: &Context,
    bytes: &[u8],
    index: u32,
) -> Result<Applied, ApplyError> {
    let xt = decode_extrinsic(bytes).map_err(|e| ApplyError::Undecodable(e.to_string()))?;
    ext.set_phase(Phase::ApplyExtrinsic(index));

    if xt.signature.is_none() && !xt.function.is_inherent() {
        validate_unsigned(ext, &xt.function).map_err(ApplyError::Invalid)?;
        fatal_check(ext)?;
        let info = xt.function.info();
        let call = xt.function;
        let outcome = ext.transactional(|ext| call.dispatch(ext, Origin::None));
        fatal_check(ext)?;
        match outcome {
            Ok(()) => ext.deposit_event(system::Event::ExtrinsicSuccess {
                dispatch_info: info,
            }),
            Err(dispatch_error) => ext.deposit_event(system::Event::ExtrinsicFailed {
                dispatch_error,
                dispatch_info: info,
            }),
        }
        fatal_check(ext)?;
        return Ok(Applied {
            success: outcome.is_ok(),
            info,
            weight: info.weight,
        });
    }
    if xt.signature.is_none() {
        let info = xt.function.info();
        let call = xt.function;
        let outcome = ext.transactional(|ext| call.dispatch(ext, Origin::None));
        fatal_check(ext)?;
        if outcome.is_err() {
            return Err(ApplyError::Invalid(InvalidTransaction::BadMandatory.into()));
        }
        ext.deposit_event(system::Event::ExtrinsicSuccess {
            dispatch_info: info,
        });
        return Ok(Applied {
            success: true,
            info,
            weight: info.weight,
        });
    }

    let (checked, _) =
        check_signed(ext, ctx, xt, bytes.len(), Mode::Apply).map_err(ApplyError::Invalid)?;
    fatal_check(ext)?;
    let Checked {
        who,
        extra,
        call,
        info,
        fee,
    } = checked;

    // Pre-dispatch: these stay even if the call fails.
    transaction_payment::withdraw_fee(ext, &who, fee)
        .map_err(|_| ApplyError::Invalid(InvalidTransaction::Payment.into()))?;
    system::inc_nonce(ext, &who);

    let outcome = ext.transactional(|ext| call.dispatch(ext, Origin::Signed(who)));
    fatal_check(ext)?;

    transaction_payment::settle_fee(ext, &who, fee, extra.tip)
        .map_err(|e| ApplyError::Fatal(format!("{e:?}")))?;
    let success = outcome.is_ok();
    // Reported weight includes the base every extrinsic costs, as FRAME reports it.
    let weight = weights::EXTRINSIC_BASE.saturating_add(info.weight);
    let dispatch_info = DispatchInfo { weight, ..info };
    match outcome {
        Ok(()) => ext.deposit_event(system::Event::ExtrinsicSuccess { dispatch_info }),
        Err(dispatch_error) => ext.deposit_event(system::Event::ExtrinsicFailed {
            dispatch_error,
            dispatch_info,
        }),
    }
    fatal_check(ext)?;
    Ok(Applied {
        success,
        info,
        weight,
    })
}
