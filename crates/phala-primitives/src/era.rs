//! Transaction mortality (`sp_runtime::generic::era::Era`).
//!
//! A mortal transaction names a window of `period` blocks starting at its birth block; it is
//! valid only while the chain's best block is inside that window, and its signature covers the
//! birth block's hash, which pins it to one chain.

use parity_scale_codec::{Decode, Encode, Error as CodecError, Input, Output};
use scale_info::{
    Path, Type, TypeInfo,
    build::{Fields, Variants},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    Immortal,
    /// `period` is a power of two in 4..=65536; `phase < period`.
    Mortal {
        period: u64,
        phase: u64,
    },
}

impl Era {
    /// A mortal era of about `period` blocks starting at block `current` (Substrate's
    /// `Era::mortal`: period rounded up to a power of two, phase quantised).
    pub fn mortal(period: u64, current: u64) -> Era {
        let period = period
            .checked_next_power_of_two()
            .unwrap_or(1 << 16)
            .clamp(4, 1 << 16);
        let phase = current.checked_rem(period).unwrap_or(0);
        let quantize = (period >> 12).max(1);
        let quantized = phase
            .checked_div(quantize)
            .unwrap_or(0)
            .saturating_mul(quantize);
        Era::Mortal {
            period,
            phase: quantized,
        }
    }

    /// First block in which the transaction is valid, given a current block inside its window.
    pub fn birth(self, current: u64) -> u64 {
        match self {
            Era::Immortal => 0,
            Era::Mortal { period, phase } => {
                let windows = current
                    .max(phase)
                    .saturating_sub(phase)
                    .checked_div(period)
                    .unwrap_or(0);
                windows.saturating_mul(period).saturating_add(phase)
            }
        }
    }

    /// First block in which the transaction is no longer valid.
    pub fn death(self, current: u64) -> u64 {
        match self {
            Era::Immortal => u64::MAX,
            Era::Mortal { period, .. } => self.birth(current).saturating_add(period),
        }
    }
}

impl Encode for Era {
    fn size_hint(&self) -> usize {
        match self {
            Era::Immortal => 1,
            Era::Mortal { .. } => 2,
        }
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        match *self {
            Era::Immortal => dest.push_byte(0),
            Era::Mortal { period, phase } => {
                let quantize = (period >> 12).max(1);
                let low = u64::from(period.trailing_zeros())
                    .saturating_sub(1)
                    .clamp(1, 15);
                let encoded = (low | (phase.checked_div(quantize).unwrap_or(0) << 4)) as u16;
                encoded.encode_to(dest);
            }
        }
    }
}

impl Decode for Era {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        let first = input.read_byte()?;
        if first == 0 {
            return Ok(Era::Immortal);
        }
        let encoded = u64::from(first) | (u64::from(input.read_byte()?) << 8);
        let period = 2u64 << (encoded % (1 << 4));
        let quantize = (period >> 12).max(1);
        let phase = (encoded >> 4).saturating_mul(quantize);
        if period >= 4 && phase < period {
            Ok(Era::Mortal { period, phase })
        } else {
            Err("Invalid period and phase".into())
        }
    }
}

impl TypeInfo for Era {
    type Identity = Self;
    fn type_info() -> Type {
        // Substrate describes Era as `Immortal` plus 255 one-byte-payload variants, so that a
        // generic decoder reads the second byte exactly when the first is non-zero.
        static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let names = NAMES.get_or_init(|| {
            (1..=255u8)
                .map(|n| &*Box::leak(format!("Mortal{n}").into_boxed_str()))
                .collect()
        });
        let mut variants = Variants::new().variant("Immortal", |v| v.index(0));
        for (n, name) in (1..=255u8).zip(names.iter()) {
            variants = variants.variant(*name, |v| {
                v.index(n).fields(Fields::unnamed().field(|f| f.ty::<u8>()))
            });
        }
        Type::builder()
            .path(Path::new("Era", "sp_runtime::generic::era"))
            .variant(variants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn polkadot_js_vectors() {
        let cases = [
            (100u64, 64u64, "4502"),
            (0, 64, "0500"),
            (1, 32, "1400"),
            (12345, 32, "9401"),
            (5, 4, "1100"),
        ];
        for (current, period, hex_expected) in cases {
            let era = Era::mortal(period, current);
            assert_eq!(
                hex::encode(era.encode()),
                hex_expected,
                "current {current} period {period}"
            );
            assert_eq!(Era::decode(&mut &era.encode()[..]).unwrap(), era);
        }
        assert_eq!(Era::mortal(64, 100).birth(100), 100);
        assert_eq!(Era::mortal(64, 100).death(100), 164);
        assert_eq!(Era::Immortal.encode(), vec![0]);
    }

    #[test]
    fn birth_is_stable_inside_the_window() {
        let era = Era::mortal(32, 1000);
        for current in 1000..1032 {
            assert_eq!(era.birth(current), 1000);
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4)) {
            let _ = Era::decode(&mut &bytes[..]);
        }

        #[test]
        fn mortal_round_trips(period in 0u64..100_000, current in 0u64..10_000_000) {
            let era = Era::mortal(period, current);
            prop_assert_eq!(Era::decode(&mut &era.encode()[..]).unwrap(), era);
            prop_assert!(era.birth(current) <= current);
            prop_assert!(era.death(current) > current);
        }
    }
}
