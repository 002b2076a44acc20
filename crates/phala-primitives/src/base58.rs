//! Bitcoin-alphabet base58, the encoding under SS58 addresses.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Longest input we accept: an SS58 address is at most 50 characters; anything much longer is
/// not an address and must not cost quadratic time.
const MAX_INPUT: usize = 128;

pub fn encode(input: &[u8]) -> String {
    // Little-endian base-58 digits of the big-endian input number.
    let mut digits: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(2));
    for &byte in input {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry = carry.saturating_add(u32::from(*d) << 8);
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = input.iter().take_while(|&&b| b == 0).count();
    let mut out = String::with_capacity(zeros.saturating_add(digits.len()));
    out.extend(std::iter::repeat_n('1', zeros));
    for &d in digits.iter().rev() {
        out.push(char::from(
            ALPHABET.get(usize::from(d)).copied().unwrap_or(b'1'),
        ));
    }
    out
}

pub fn decode(input: &str) -> Option<Vec<u8>> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(input.len());
    for c in input.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)?;
        let mut carry = u32::try_from(value).ok()?;
        for b in bytes.iter_mut() {
            carry = carry.saturating_add(u32::from(*b).saturating_mul(58));
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = input.bytes().take_while(|&c| c == b'1').count();
    bytes.extend(std::iter::repeat_n(0, zeros));
    bytes.reverse();
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(encode(&[0, 0, 1]), "112");
        assert_eq!(decode("StV1DL6CwTryKyV").unwrap(), b"hello world");
        assert_eq!(decode("112").unwrap(), vec![0, 0, 1]);
        assert_eq!(decode("0OIl"), None);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in ".{0,200}") {
            let _ = decode(&s);
        }
    }
}
