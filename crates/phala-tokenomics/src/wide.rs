//! `a·b/c` on u128 amounts without overflow in between: share and value conversions
//! multiply two amounts of up to ~10^21 plancks, past u128.

/// `floor(a·b / c)`, or `None` when `c` is 0 or the quotient does not fit u128.
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    let (hi, lo) = mul_wide(a, b);
    if hi == 0 {
        return Some(lo / c);
    }
    if hi >= c {
        return None;
    }
    // Long division of the 256-bit product by c, one bit at a time; rem < c throughout.
    let mut rem = hi;
    let mut quotient: u128 = 0;
    for bit in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> bit) & 1);
        quotient <<= 1;
        // With a carry the true remainder is 2^128 + rem, which is ≥ c; the wrapping
        // subtraction gives the true difference, which is < c.
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            quotient |= 1;
        }
    }
    Some(quotient)
}

/// The 256-bit product as (high, low) halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // Each term < 2^64, so their sum < 3·2^64 fits.
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let lo = (p00 & MASK) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(mul_div_floor(1, 1, 0), None);
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(u128::MAX, 2, 2), Some(u128::MAX));
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        assert_eq!(
            mul_div_floor(10u128.pow(21), 10u128.pow(21), 10u128.pow(21)),
            Some(10u128.pow(21))
        );
        assert_eq!(mul_div_floor(7, 3, 2), Some(10));
    }

    proptest! {
        #[test]
        fn matches_narrow_arithmetic_where_it_fits(a in any::<u64>(), b in any::<u64>(), c in 1u128..) {
            let exact = u128::from(a) * u128::from(b) / c;
            prop_assert_eq!(mul_div_floor(a.into(), b.into(), c), Some(exact));
        }

        #[test]
        fn is_the_floor_of_the_true_quotient(a in any::<u128>(), b in any::<u128>(), c in 1u128..) {
            if let Some(q) = mul_div_floor(a, b, c) {
                // q·c ≤ a·b < (q+1)·c, compared in 256 bits.
                let (qh, ql) = mul_wide(q, c);
                let (ph, pl) = mul_wide(a, b);
                prop_assert!((qh, ql) <= (ph, pl));
                if q < u128::MAX {
                    let (q1h, q1l) = mul_wide(q + 1, c);
                    prop_assert!((ph, pl) < (q1h, q1l));
                }
            } else {
                prop_assert!(mul_wide(a, b).0 >= c);
            }
        }
    }
}
