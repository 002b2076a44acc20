//! `Preimage`: calls (and other bytes) stored on chain under their hash, so a referendum or
//! a scheduled task can name a call bigger than a transaction should carry twice.
//!
//! Substrate's `pallet-preimage`, same calls, storage and events. Anyone may note bytes by
//! holding a deposit (base + per byte) until they unnote them; root's notes are free. A
//! request (by the scheduler, for a task that names a call by hash) keeps the bytes while it
//! lasts: the last unrequest of bytes nobody holds a deposit for removes them.

mod calls;
#[cfg(test)]
mod tests;

pub use calls::Call;

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_primitives::{AccountId32, Balance, H256, PHA, hashing, storage::Hasher};
use scale_info::TypeInfo;

use crate::bounded::BoundedBytes;
use crate::dispatch::{DispatchError, DispatchResult, ModuleErrorEnum};
use crate::modules::{balances, index};
use crate::storage::{Query, StorageMap};
use crate::{Ext, MAX_CALL_DEPTH, RuntimeCall};

const MODULE: &str = "Preimage";

/// The largest preimage (Substrate's `MAX_SIZE`, 4 MiB).
pub const MAX_SIZE: u32 = 4 * 1024 * 1024;
/// Held for every signed note, whatever its size.
pub const BASE_DEPOSIT: Balance = PHA;
/// Held per byte of a signed note: a 4 MiB preimage holds about 4,200 PHA.
pub const BYTE_DEPOSIT: Balance = PHA / 1_000;
/// Calls inline in a `Bounded` at most this long (Substrate's 128).
pub const MAX_INLINE: u32 = 128;
/// Hashes one `ensure_updated` may name.
pub const MAX_HASH_UPGRADE: usize = 1024;

/// `frame_support::traits::tokens::fungible::HoldConsideration`: the amount held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[scale_info(replace_segment("phala_runtime", "frame_support"))]
#[scale_info(replace_segment("modules", "traits"))]
#[scale_info(replace_segment("preimage", "tokens"))]
pub struct HoldConsideration(pub Balance);

/// Who holds a deposit for a preimage, and how much.
pub type Ticket = (AccountId32, HoldConsideration);

/// `pallet_preimage::RequestStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RequestStatus {
    /// Noted with a deposit, wanted by nobody yet.
    #[codec(index = 0)]
    Unrequested { ticket: Ticket, len: u32 },
    /// Wanted `count` times; the bytes are there once `maybe_len` is known.
    #[codec(index = 1)]
    Requested {
        maybe_ticket: Option<Ticket>,
        count: u32,
        maybe_len: Option<u32>,
    },
}

/// `pallet_preimage::OldRequestStatus`: the layout before tickets. Kept in metadata (tools
/// still read `StatusFor`); nothing here writes it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum OldRequestStatus {
    #[codec(index = 0)]
    Unrequested {
        deposit: (AccountId32, Balance),
        len: u32,
    },
    #[codec(index = 1)]
    Requested {
        deposit: Option<(AccountId32, Balance)>,
        count: u32,
        len: Option<u32>,
    },
}

/// A call named in a referendum or a task (`frame_support::traits::preimages::Bounded`):
/// inline if short, otherwise by the hash and length of a preimage.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[scale_info(replace_segment("phala_runtime", "frame_support"))]
#[scale_info(replace_segment("modules", "traits"))]
#[scale_info(replace_segment("preimage", "preimages"))]
pub enum Bounded {
    /// By hash alone, from before lengths were stored. Accepted on the wire for
    /// compatibility; never created, and unavailable when it runs.
    #[codec(index = 0)]
    Legacy { hash: H256 },
    /// The SCALE-encoded call itself.
    #[codec(index = 1)]
    Inline(BoundedBytes<MAX_INLINE>),
    /// The call is the preimage of `hash`, `len` bytes long.
    #[codec(index = 2)]
    Lookup { hash: H256, len: u32 },
}

impl Bounded {
    /// The preimage this names, if any.
    pub fn lookup(&self) -> Option<(H256, Option<u32>)> {
        match self {
            Bounded::Legacy { hash } => Some((*hash, None)),
            Bounded::Inline(_) => None,
            Bounded::Lookup { hash, len } => Some((*hash, Some(*len))),
        }
    }

    /// Inline if short enough, `None` otherwise (the caller notes it and uses `Lookup`).
    pub fn inline(call: &RuntimeCall) -> Option<Bounded> {
        BoundedBytes::new(call.encode()).map(Bounded::Inline)
    }
}

pub const STATUS_FOR: StorageMap<H256, OldRequestStatus> = StorageMap::new(
    MODULE,
    "StatusFor",
    Hasher::Identity,
    Query::Optional,
    &[" The request status of a given hash (the old layout; always empty here)."],
);

pub const REQUEST_STATUS_FOR: StorageMap<H256, RequestStatus> = StorageMap::new(
    MODULE,
    "RequestStatusFor",
    Hasher::Identity,
    Query::Optional,
    &[" The request status of a given hash."],
);

pub const PREIMAGE_FOR: StorageMap<(H256, u32), BoundedBytes<MAX_SIZE>> = StorageMap::new(
    MODULE,
    "PreimageFor",
    Hasher::Identity,
    Query::Optional,
    &[" The preimages, by hash and length."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        STATUS_FOR.metadata_optional(),
        REQUEST_STATUS_FOR.metadata_optional(),
        PREIMAGE_FOR.metadata(),
    ]
}

/// Events of the `Preimage` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A preimage has been noted.
    #[codec(index = 0)]
    Noted { hash: H256 },
    /// A preimage has been requested.
    #[codec(index = 1)]
    Requested { hash: H256 },
    /// A preimage has been cleared.
    #[codec(index = 2)]
    Cleared { hash: H256 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Preimage(e)
    }
}

/// Errors of the `Preimage` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Preimage is too large to store on-chain.
    TooBig,
    /// Preimage has already been noted on-chain.
    AlreadyNoted,
    /// The user is not authorized to perform this action.
    NotAuthorized,
    /// The preimage cannot be removed since it has not yet been noted.
    NotNoted,
    /// A preimage may not be removed when there are outstanding requests.
    Requested,
    /// The preimage request cannot be removed since no outstanding requests exist.
    NotRequested,
    /// More than `MAX_HASH_UPGRADE` hashes were requested to be upgraded at once.
    TooMany,
    /// Too few hashes were requested to be upgraded (i.e. zero).
    TooFew,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::PREIMAGE;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// The deposit a signed note of `len` bytes holds under runtime `spec_version`. (The
/// test-only next version doubles the base: a changed parameter to rehearse upgrades with.)
pub fn deposit_for(spec_version: u32, len: u32) -> Balance {
    let base = if spec_version == crate::version::TEST_NEXT_SPEC_VERSION {
        BASE_DEPOSIT.saturating_mul(2)
    } else {
        BASE_DEPOSIT
    };
    BYTE_DEPOSIT
        .saturating_mul(Balance::from(len))
        .saturating_add(base)
}

/// Stores `bytes` under their hash: with a deposit from `depositor`, or free for root
/// (`None`), which also counts as a request. Returns whether the bytes were requested.
pub fn note(
    ext: &mut Ext,
    bytes: Vec<u8>,
    depositor: Option<AccountId32>,
) -> Result<bool, DispatchError> {
    let len = u32::try_from(bytes.len()).map_err(|_| Error::TooBig)?;
    let bytes = BoundedBytes::<MAX_SIZE>::new(bytes).ok_or(Error::TooBig)?;
    let hash = H256(hashing::blake2_256(&bytes));
    let status = match (REQUEST_STATUS_FOR.get(ext, &hash), depositor) {
        (
            Some(RequestStatus::Requested {
                maybe_ticket,
                count,
                ..
            }),
            _,
        ) => RequestStatus::Requested {
            maybe_ticket,
            count,
            maybe_len: Some(len),
        },
        (Some(RequestStatus::Unrequested { .. }), Some(_)) => {
            return Err(Error::AlreadyNoted.into());
        }
        (Some(RequestStatus::Unrequested { ticket, len }), None) => RequestStatus::Requested {
            maybe_ticket: Some(ticket),
            count: 1,
            maybe_len: Some(len),
        },
        (None, None) => RequestStatus::Requested {
            maybe_ticket: None,
            count: 1,
            maybe_len: Some(len),
        },
        (None, Some(who)) => {
            let amount = deposit_for(crate::modules::system::active_spec_version(ext), len);
            balances::reserve(ext, &who, amount)?;
            RequestStatus::Unrequested {
                ticket: (who, HoldConsideration(amount)),
                len,
            }
        }
    };
    let requested = matches!(status, RequestStatus::Requested { .. });
    REQUEST_STATUS_FOR.insert(ext, &hash, &status);
    PREIMAGE_FOR.insert(ext, &(hash, len), &bytes);
    ext.deposit_event(Event::Noted { hash });
    Ok(requested)
}

/// Frees a note: the owner (or root, `None`) gives back the deposit; bytes nobody requests
/// are removed.
pub fn unnote(ext: &mut Ext, hash: H256, check_owner: Option<AccountId32>) -> DispatchResult {
    match REQUEST_STATUS_FOR.get(ext, &hash).ok_or(Error::NotNoted)? {
        RequestStatus::Requested {
            maybe_ticket: Some((owner, HoldConsideration(amount))),
            count,
            maybe_len,
        } => {
            if check_owner.is_some_and(|c| c != owner) {
                return Err(Error::NotAuthorized.into());
            }
            balances::unreserve(ext, &owner, amount);
            REQUEST_STATUS_FOR.insert(
                ext,
                &hash,
                &RequestStatus::Requested {
                    maybe_ticket: None,
                    count,
                    maybe_len,
                },
            );
            Ok(())
        }
        RequestStatus::Requested {
            maybe_ticket: None, ..
        } => {
            if check_owner.is_some() {
                return Err(Error::NotAuthorized.into());
            }
            unrequest(ext, hash)
        }
        RequestStatus::Unrequested {
            ticket: (owner, HoldConsideration(amount)),
            len,
        } => {
            if check_owner.is_some_and(|c| c != owner) {
                return Err(Error::NotAuthorized.into());
            }
            balances::unreserve(ext, &owner, amount);
            REQUEST_STATUS_FOR.remove(ext, &hash);
            PREIMAGE_FOR.remove(ext, &(hash, len));
            ext.deposit_event(Event::Cleared { hash });
            Ok(())
        }
    }
}

/// Asks for `hash` to be kept (or noted for free, once someone notes it).
pub fn request(ext: &mut Ext, hash: H256) {
    let status = match REQUEST_STATUS_FOR.get(ext, &hash) {
        Some(RequestStatus::Requested {
            maybe_ticket,
            count,
            maybe_len,
        }) => RequestStatus::Requested {
            maybe_ticket,
            count: count.saturating_add(1),
            maybe_len,
        },
        Some(RequestStatus::Unrequested { ticket, len }) => RequestStatus::Requested {
            maybe_ticket: Some(ticket),
            count: 1,
            maybe_len: Some(len),
        },
        None => RequestStatus::Requested {
            maybe_ticket: None,
            count: 1,
            maybe_len: None,
        },
    };
    REQUEST_STATUS_FOR.insert(ext, &hash, &status);
    ext.deposit_event(Event::Requested { hash });
}

/// Withdraws one request; the last one removes bytes nobody holds a deposit for.
pub fn unrequest(ext: &mut Ext, hash: H256) -> DispatchResult {
    match REQUEST_STATUS_FOR
        .get(ext, &hash)
        .ok_or(Error::NotRequested)?
    {
        RequestStatus::Requested {
            maybe_ticket,
            count,
            maybe_len,
        } if count > 1 => {
            REQUEST_STATUS_FOR.insert(
                ext,
                &hash,
                &RequestStatus::Requested {
                    maybe_ticket,
                    count: count.saturating_sub(1),
                    maybe_len,
                },
            );
        }
        RequestStatus::Requested {
            maybe_ticket,
            maybe_len,
            ..
        } => match (maybe_len, maybe_ticket) {
            (Some(len), Some(ticket)) => {
                REQUEST_STATUS_FOR.insert(ext, &hash, &RequestStatus::Unrequested { ticket, len });
            }
            (Some(len), None) => {
                PREIMAGE_FOR.remove(ext, &(hash, len));
                REQUEST_STATUS_FOR.remove(ext, &hash);
                ext.deposit_event(Event::Cleared { hash });
            }
            (None, Some((owner, HoldConsideration(amount)))) => {
                balances::unreserve(ext, &owner, amount);
                REQUEST_STATUS_FOR.remove(ext, &hash);
            }
            (None, None) => REQUEST_STATUS_FOR.remove(ext, &hash),
        },
        RequestStatus::Unrequested { .. } => return Err(Error::NotRequested.into()),
    }
    Ok(())
}

/// The length of the stored preimage of `hash`, if its bytes are here.
pub fn len(ext: &Ext, hash: &H256) -> Option<u32> {
    match REQUEST_STATUS_FOR.get(ext, hash)? {
        RequestStatus::Unrequested { len, .. } => Some(len),
        RequestStatus::Requested { maybe_len, .. } => maybe_len,
    }
}

/// Why a named call cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The preimage is not (or no longer) on chain.
    Missing,
    /// The bytes are not a call of this runtime.
    Undecodable,
}

/// The call `bounded` names, decoded with the runtime's nesting limit.
pub fn realize(ext: &Ext, bounded: &Bounded) -> Result<RuntimeCall, Unavailable> {
    let bytes = match bounded {
        Bounded::Inline(bytes) => bytes.to_vec(),
        Bounded::Lookup { hash, len } => PREIMAGE_FOR
            .get(ext, &(*hash, *len))
            .ok_or(Unavailable::Missing)?
            .into_inner(),
        Bounded::Legacy { .. } => return Err(Unavailable::Missing),
    };
    RuntimeCall::decode_all_with_depth_limit(MAX_CALL_DEPTH, &mut bytes.as_slice())
        .map_err(|_| Unavailable::Undecodable)
}

/// Names `call` for later: inline if short, otherwise noted for free (root's note) and
/// named by hash. Returns whether that added a request, which the caller then owns and
/// drops with [`drop_bounded`] (bytes someone already requested gain none).
pub fn bound(ext: &mut Ext, call: &RuntimeCall) -> Result<(Bounded, bool), DispatchError> {
    if let Some(inline) = Bounded::inline(call) {
        return Ok((inline, false));
    }
    let bytes = call.encode();
    let len = u32::try_from(bytes.len()).map_err(|_| Error::TooBig)?;
    let hash = H256(hashing::blake2_256(&bytes));
    let added = match REQUEST_STATUS_FOR.get(ext, &hash) {
        None | Some(RequestStatus::Unrequested { .. }) => true,
        Some(RequestStatus::Requested { .. }) => false,
    };
    let bytes_there = self::len(ext, &hash) == Some(len);
    if !bytes_there || added {
        note(ext, bytes, None)?;
    }
    Ok((Bounded::Lookup { hash, len }, added))
}

/// Forgets what `bound` noted or a task requested: one request fewer for a lookup.
pub fn drop_bounded(ext: &mut Ext, bounded: &Bounded) {
    if let Some((hash, _)) = bounded.lookup() {
        // Nothing to undo if it was never requested.
        let _ = unrequest(ext, hash);
    }
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Preimage",
        index: index::PREIMAGE,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Calls and other bytes stored under their hash, for referenda and tasks.",
    }
}
