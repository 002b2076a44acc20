//! Who a call is made by, and how that is written down when a call runs later.
//!
//! A call runs with an [`Origin`]: root, a signed account, none (inherents and unsigned
//! evidence), or one of governance's own origins ([`GovOrigin`]), which a referendum on that
//! origin's track grants. When a call is stored to run later (a scheduled task, a
//! referendum's proposal) its origin is stored as an [`OriginCaller`], Substrate's
//! `OriginCaller` with its variants at their modules' indices (`system` at 0, `Origins` at
//! 22), so `{ system: 'Root' }` and `{ Origins: 'Treasurer' }` mean the same to polkadot.js
//! as on Polkadot.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use phala_primitives::AccountId32;
use scale_info::TypeInfo;

use crate::OriginCaller;
use crate::dispatch::DispatchError;

/// Who a call is made by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The chain itself: a referendum on the root track (and sudo on development chains).
    Root,
    /// A signed transaction's sender.
    Signed(AccountId32),
    /// An inherent put in the block by its author, or unsigned evidence.
    None,
    /// A referendum passed on the track of this origin.
    Gov(GovOrigin),
}

impl Origin {
    pub fn ensure_signed(self) -> Result<AccountId32, DispatchError> {
        match self {
            Origin::Signed(who) => Ok(who),
            _ => Err(DispatchError::BadOrigin),
        }
    }

    pub fn ensure_none(self) -> Result<(), DispatchError> {
        match self {
            Origin::None => Ok(()),
            _ => Err(DispatchError::BadOrigin),
        }
    }

    pub fn ensure_root(self) -> Result<(), DispatchError> {
        match self {
            Origin::Root => Ok(()),
            _ => Err(DispatchError::BadOrigin),
        }
    }

    /// Root, or a referendum passed on `gov`'s track: what a call that governance delegates
    /// to a narrower track accepts.
    pub fn ensure_root_or(self, gov: GovOrigin) -> Result<(), DispatchError> {
        match self {
            Origin::Root => Ok(()),
            Origin::Gov(g) if g == gov => Ok(()),
            _ => Err(DispatchError::BadOrigin),
        }
    }

    /// Root or a signed account (`None` for root): calls open to anyone that root may also
    /// make for free (notes, refunds).
    pub fn ensure_signed_or_root(self) -> Result<Option<AccountId32>, DispatchError> {
        match self {
            Origin::Root => Ok(None),
            Origin::Signed(who) => Ok(Some(who)),
            _ => Err(DispatchError::BadOrigin),
        }
    }

    /// How this origin is stored.
    pub fn caller(self) -> OriginCaller {
        match self {
            Origin::Root => OriginCaller::system(RawOrigin::Root),
            Origin::Signed(who) => OriginCaller::system(RawOrigin::Signed(who)),
            Origin::None => OriginCaller::system(RawOrigin::None),
            Origin::Gov(g) => OriginCaller::Origins(g),
        }
    }
}

/// Governance's own origins (Polkadot's `pallet_custom_origins::Origin`, same names and
/// indices for those this chain uses, plus `Parameters`). Each is granted by a referendum
/// on the track of the same name and lets the proposal make only the calls that accept it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
pub enum GovOrigin {
    /// Treasury spends up to the treasurer's limit.
    #[codec(index = 1)]
    Treasurer,
    /// Cancel an ongoing referendum, refunding its deposits.
    #[codec(index = 6)]
    ReferendumCanceller,
    /// Kill an ongoing referendum, slashing its deposits.
    #[codec(index = 7)]
    ReferendumKiller,
    /// Small treasury spends.
    #[codec(index = 10)]
    SmallSpender,
    /// Medium treasury spends.
    #[codec(index = 11)]
    MediumSpender,
    /// Large treasury spends.
    #[codec(index = 12)]
    BigSpender,
    /// The chain's tunable parameters: economics, gas price, deposits, attestation,
    /// committee size and epoch length.
    #[codec(index = 15)]
    Parameters,
}

impl GovOrigin {
    pub const ALL: [GovOrigin; 7] = [
        GovOrigin::Treasurer,
        GovOrigin::ReferendumCanceller,
        GovOrigin::ReferendumKiller,
        GovOrigin::SmallSpender,
        GovOrigin::MediumSpender,
        GovOrigin::BigSpender,
        GovOrigin::Parameters,
    ];
}

/// `frame_support::dispatch::RawOrigin`: the system module's origins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
#[scale_info(replace_segment("phala_runtime", "frame_support"))]
#[scale_info(replace_segment("origin", "dispatch"))]
pub enum RawOrigin {
    #[codec(index = 0)]
    Root,
    #[codec(index = 1)]
    Signed(AccountId32),
    #[codec(index = 2)]
    None,
    /// Substrate's origin for calls authorized by a transaction extension; nothing here
    /// grants it, and a stored task with it cannot run.
    #[codec(index = 3)]
    Authorized,
}

/// The `Origins` module's metadata: nothing but its index, which `OriginCaller` uses.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Origins",
        index: crate::modules::index::ORIGINS,
        storage: vec![],
        calls: None,
        event: None,
        constants: vec![],
        error: None,
        docs: " Governance's own origins, granted by referenda on their tracks.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes_match_polkadot() {
        assert_eq!(Origin::Root.caller().encode(), vec![0, 0]);
        assert_eq!(
            OriginCaller::Origins(GovOrigin::Treasurer).encode(),
            vec![22, 1]
        );
        for g in GovOrigin::ALL {
            let caller = Origin::Gov(g).caller();
            let back = OriginCaller::decode(&mut caller.encode().as_slice()).unwrap();
            assert_eq!(back.origin(), Some(Origin::Gov(g)));
        }
    }

    #[test]
    fn type_paths_are_upstream() {
        use scale_info::TypeInfo;
        assert_eq!(
            RawOrigin::type_info().path.segments,
            vec!["frame_support", "dispatch", "RawOrigin"]
        );
        assert_eq!(
            OriginCaller::type_info().path.segments,
            vec!["phala_runtime", "OriginCaller"]
        );
    }
}
