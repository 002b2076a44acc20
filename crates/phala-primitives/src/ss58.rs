//! SS58 addresses: `base58(prefix ‖ pubkey ‖ blake2b_512("SS58PRE" ‖ prefix ‖ pubkey)[..2])`.
//!
//! Phala's prefix is 30; parsing accepts any prefix because clients (subxt) send prefix 42.

use crate::crypto::decode_hex;

/// Why an address was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Ss58Error {
    #[error("{0:?} is not base58")]
    NotBase58(String),
    #[error("{0:?} has the wrong length for an SS58 account address")]
    BadLength(String),
    #[error("{0:?} has a bad checksum")]
    BadChecksum(String),
    #[error("{0:?} is neither an SS58 address nor 0x followed by 64 hex digits")]
    NotAnAccount(String),
}

fn checksum(data: &[u8]) -> [u8; 64] {
    let mut input = Vec::with_capacity(data.len().saturating_add(7));
    input.extend_from_slice(b"SS58PRE");
    input.extend_from_slice(data);
    sp_crypto_hashing::blake2_512(&input)
}

fn prefix_bytes(prefix: u16) -> Vec<u8> {
    // Simple one-byte format for 0..64, two-byte format above (as in sp-core).
    if prefix < 64 {
        vec![prefix as u8]
    } else {
        let first = (((prefix & 0b0000_0000_1111_1100) as u8) >> 2) | 0b0100_0000;
        let second = ((prefix >> 8) as u8) | (((prefix & 0b0000_0000_0000_0011) as u8) << 6);
        vec![first, second]
    }
}

/// Longest text read as an address (one is at most 50 characters).
const MAX_ADDRESS_LEN: usize = 128;

/// Encodes a 32-byte public key with the given network prefix.
pub fn encode(public: &[u8; 32], prefix: u16) -> String {
    let mut data = prefix_bytes(prefix);
    data.extend_from_slice(public);
    let hash = checksum(&data);
    data.extend_from_slice(hash.get(..2).unwrap_or_default());
    bs58::encode(&data).into_string()
}

/// Decodes an SS58 account address of any prefix, returning `(public key, prefix)`.
pub fn decode(address: &str) -> Result<([u8; 32], u16), Ss58Error> {
    // An address is at most 50 characters; base58 decoding costs quadratic time, so
    // anything much longer is refused before it is decoded.
    if address.len() > MAX_ADDRESS_LEN {
        return Err(Ss58Error::NotBase58(
            address.chars().take(MAX_ADDRESS_LEN).collect(),
        ));
    }
    let data = bs58::decode(address)
        .into_vec()
        .map_err(|_| Ss58Error::NotBase58(address.into()))?;
    let (prefix_len, prefix) = match data.first() {
        Some(&b) if b < 64 => (1usize, u16::from(b)),
        Some(&b) if b < 128 => {
            let second = *data
                .get(1)
                .ok_or_else(|| Ss58Error::BadLength(address.into()))?;
            let lower = (b << 2) | (second >> 6);
            let upper = second & 0b0011_1111;
            (2, u16::from(lower) | (u16::from(upper) << 8))
        }
        _ => return Err(Ss58Error::BadLength(address.into())),
    };
    // prefix ‖ 32-byte key ‖ 2-byte checksum
    if data.len() != prefix_len.saturating_add(34) {
        return Err(Ss58Error::BadLength(address.into()));
    }
    let key_end = prefix_len.saturating_add(32);
    let body = data
        .get(..key_end)
        .ok_or_else(|| Ss58Error::BadLength(address.into()))?;
    let expected = checksum(body);
    if data.get(key_end..) != expected.get(..2) {
        return Err(Ss58Error::BadChecksum(address.into()));
    }
    let key: [u8; 32] = body
        .get(prefix_len..)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| Ss58Error::BadLength(address.into()))?;
    Ok((key, prefix))
}

/// Parses an account given as an SS58 address (any prefix) or as `0x` + 64 hex digits.
pub fn parse_account(s: &str) -> Result<[u8; 32], Ss58Error> {
    let s = s.trim();
    if s.starts_with("0x") {
        let bytes = decode_hex(s).map_err(|_| Ss58Error::NotAnAccount(s.into()))?;
        return bytes
            .try_into()
            .map_err(|_| Ss58Error::NotAnAccount(s.into()));
    }
    decode(s).map(|(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    fn alice() -> [u8; 32] {
        hex::decode(ALICE).unwrap().try_into().unwrap()
    }

    #[test]
    fn polkadot_js_vectors() {
        assert_eq!(
            encode(&alice(), 42),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        assert_eq!(
            encode(&alice(), 30),
            "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2"
        );
        assert_eq!(
            encode(&alice(), 0),
            "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"
        );
        assert_eq!(
            decode("45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2"),
            Ok((alice(), 30))
        );
        assert_eq!(parse_account(&format!("0x{ALICE}")), Ok(alice()));
    }

    #[test]
    fn two_byte_prefixes_round_trip() {
        for prefix in [64u16, 255, 1000, 16383] {
            let a = encode(&alice(), prefix);
            assert_eq!(decode(&a), Ok((alice(), prefix)));
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        let mut bad = "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs3".to_string();
        assert!(matches!(decode(&bad), Err(Ss58Error::BadChecksum(_))));
        bad.truncate(20);
        assert!(decode(&bad).is_err());
        assert!(parse_account("0x1234").is_err());
        assert!(parse_account("hello").is_err());
        // Far longer than any address: refused before the quadratic decoding.
        assert!(matches!(
            decode(&"1".repeat(10_000)),
            Err(Ss58Error::NotBase58(_))
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = parse_account(&s);
        }

        #[test]
        fn round_trips(key in any::<[u8; 32]>(), prefix in 0u16..16384) {
            prop_assert_eq!(decode(&encode(&key, prefix)), Ok((key, prefix)));
        }
    }
}
