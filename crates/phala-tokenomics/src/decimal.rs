//! Decimal text ↔ fixed point, exactly and without floats: chain specs and the CLI write
//! parameters as people do ("1.0002", "0.0415625"), and a float in between would make two
//! machines disagree on the last bits.

use crate::Fixed;

/// Most fractional digits accepted: 10^18 < 2^60, so `digits << 64` fits u128.
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses a non-negative decimal (`"30000"`, `"1.0002"`, `".5"` is refused) into U64F64,
/// rounding the fraction to the nearest 2^-64 (so decimals written back read the same). Refuses signs, exponents, separators,
/// more than 18 fractional digits, and integers of 2^64 or more.
pub fn parse_decimal(text: &str) -> Result<Fixed, String> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(format!("{text:?} is not a decimal number such as 1.0002"));
    }
    let whole: u64 = whole
        .parse()
        .map_err(|_| format!("{text:?} is too large (at most 2^64 - 1)"))?;
    let mut bits = u128::from(whole) << 64;
    if let Some(fraction) = fraction {
        if fraction.len() > MAX_FRACTION_DIGITS {
            return Err(format!(
                "{text:?} has more than {MAX_FRACTION_DIGITS} decimal places"
            ));
        }
        let numerator: u128 = fraction
            .parse()
            .map_err(|_| format!("{text:?} is not a decimal number"))?;
        let exponent = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
        let denominator = 10u128.pow(exponent);
        // < 2^64 even rounded up, since numerator < denominator.
        bits |= ((numerator << 64) + denominator / 2) / denominator;
    }
    Ok(Fixed::from_bits(bits))
}

/// Writes `value` in decimal rounded to at most `places` fractional digits (trailing zeros
/// dropped): for people, while [`Fixed::to_bits`] is the exact form.
pub fn format_fixed(value: Fixed, places: u32) -> String {
    let bits = value.to_bits();
    let mut whole = bits >> 64;
    let places = places.min(MAX_FRACTION_DIGITS as u32);
    let scale = 10u128.pow(places);
    // The fraction (< 2^64) times 10^18 (< 2^60) fits u128.
    let mut fraction = (((bits & u128::from(u64::MAX)) * scale) + (1 << 63)) >> 64;
    if fraction == scale {
        whole += 1;
        fraction = 0;
    }
    if places == 0 || fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = places as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parts per billion as a percentage, exactly (`100000000` → `"10%"`, `25000000` →
/// `"2.5%"`): for people reading a commission or a share.
pub fn format_perbill(parts: u128) -> String {
    let (whole, fraction) = (parts / 10_000_000, parts % 10_000_000);
    let fraction = format!("{fraction:07}");
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{whole}%")
    } else {
        format!("{whole}.{fraction}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_per_billion_read_as_exact_percentages() {
        assert_eq!(format_perbill(100_000_000), "10%");
        assert_eq!(format_perbill(25_000_000), "2.5%");
        assert_eq!(format_perbill(1), "0.0000001%");
        assert_eq!(format_perbill(0), "0%");
        assert_eq!(format_perbill(1_000_000_000), "100%");
    }

    #[test]
    fn decimals_parse_exactly_and_refuse_what_is_not_one() {
        assert_eq!(parse_decimal("30000").unwrap(), Fixed::from_num(30000));
        assert_eq!(parse_decimal("0.5").unwrap(), Fixed::from_bits(1 << 63));
        assert_eq!(parse_decimal("1.25").unwrap(), Fixed::from_bits(5 << 62));
        assert_eq!(format_fixed(parse_decimal("1.0002").unwrap(), 8), "1.0002");
        assert_eq!(
            format_fixed(parse_decimal("0.0415625").unwrap(), 10),
            "0.0415625"
        );
        assert_eq!(
            format_fixed(parse_decimal("88.59375").unwrap(), 6),
            "88.59375"
        );
        assert_eq!(format_fixed(Fixed::from_num(7), 4), "7");
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "+1",
            "1e3",
            "1,5",
            " 1",
            "0x10",
            "1.2.3",
            "18446744073709551616",
            "0.1234567890123456789",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse_decimal("18446744073709551615").unwrap(),
            Fixed::from_bits(u128::from(u64::MAX) << 64)
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_decimal(&text);
        }

        #[test]
        fn formatted_values_parse_back_within_the_last_place(bits in proptest::prelude::any::<u128>()) {
            let value = Fixed::from_bits(bits);
            let text = format_fixed(value, 18);
            // Only the largest values round up past 2^64 - 1.
            if let Ok(back) = parse_decimal(&text) {
                // Two roundings to nearest move it by at most half of 10^-18 plus 2^-64.
                proptest::prop_assert!(value.to_bits().abs_diff(back.to_bits()) <= 10, "{} {}", value, text);
            }
        }
    }
}
