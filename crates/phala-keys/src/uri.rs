//! Substrate secret URIs: `[phrase][/soft|//hard]*[///password]`.

use parity_scale_codec::Encode;

use crate::KeyError;

/// Substrate's development phrase, used when a URI has no phrase (`//Alice`).
pub const DEV_PHRASE: &str =
    "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

/// One derivation step, holding its 32-byte chain code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Junction {
    Soft([u8; 32]),
    Hard([u8; 32]),
}

impl Junction {
    /// Chain code of a junction name: a number is its u64 little-endian bytes, anything else
    /// its SCALE-encoded string; hashed with blake2_256 when longer than 32 bytes.
    fn chain_code(name: &str) -> [u8; 32] {
        let encoded = match name.parse::<u64>() {
            Ok(n) => n.encode(),
            Err(_) => name.encode(),
        };
        if encoded.len() > 32 {
            return sp_crypto_hashing::blake2_256(&encoded);
        }
        let mut cc = [0u8; 32];
        for (dst, src) in cc.iter_mut().zip(encoded) {
            *dst = src;
        }
        cc
    }
}

impl core::fmt::Debug for Junction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Junction names can be secret; show only the kind.
        f.write_str(match self {
            Junction::Soft(_) => "Soft(..)",
            Junction::Hard(_) => "Hard(..)",
        })
    }
}

/// A parsed secret URI.
pub struct SecretUri {
    /// A BIP39 phrase or a `0x` hex seed; the dev phrase when the URI had none.
    pub phrase: String,
    pub path: Vec<Junction>,
    pub password: Option<String>,
}

impl SecretUri {
    pub fn parse(uri: &str) -> Result<Self, KeyError> {
        let (left, password) = match uri.find("///") {
            Some(at) => (
                uri.get(..at).unwrap_or_default(),
                Some(
                    uri.get(at.saturating_add(3)..)
                        .unwrap_or_default()
                        .to_string(),
                ),
            ),
            None => (uri, None),
        };
        let (phrase, mut rest) = match left.find('/') {
            Some(at) => (
                left.get(..at).unwrap_or_default(),
                left.get(at..).unwrap_or_default(),
            ),
            None => (left, ""),
        };
        let phrase = phrase.trim();
        if !phrase
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '_')
        {
            return Err(KeyError::InvalidUri(
                "the phrase may contain only words and spaces".into(),
            ));
        }
        let mut path = Vec::new();
        while !rest.is_empty() {
            let (hard, after) = match rest.strip_prefix("//") {
                Some(after) => (true, after),
                None => (false, rest.strip_prefix('/').unwrap_or(rest)),
            };
            let end = after.find('/').unwrap_or(after.len());
            let name = after.get(..end).unwrap_or_default();
            if name.is_empty() {
                return Err(KeyError::InvalidUri("empty derivation junction".into()));
            }
            let cc = Junction::chain_code(name);
            path.push(if hard {
                Junction::Hard(cc)
            } else {
                Junction::Soft(cc)
            });
            rest = after.get(end..).unwrap_or_default();
        }
        let phrase = if phrase.is_empty() {
            DEV_PHRASE.to_string()
        } else {
            phrase.to_string()
        };
        Ok(SecretUri {
            phrase,
            path,
            password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_paths_and_passwords() {
        let u = SecretUri::parse("//Alice//stash/0///pw").unwrap();
        assert_eq!(u.phrase, DEV_PHRASE);
        assert_eq!(u.path.len(), 3);
        assert!(matches!(u.path[0], Junction::Hard(_)));
        assert!(matches!(u.path[2], Junction::Soft(_)));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert!(SecretUri::parse("//Alice//").is_err());
        assert!(SecretUri::parse("bad-phrase!//x").is_err());
        // Number junctions are u64 LE.
        assert_eq!(Junction::chain_code("1")[..9], [1, 0, 0, 0, 0, 0, 0, 0, 0]);
        // "Alice" is SCALE: compact length 5 then the bytes.
        assert_eq!(
            &Junction::chain_code("Alice")[..6],
            &[20, b'A', b'l', b'i', b'c', b'e']
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,100}") {
            let _ = SecretUri::parse(&s);
        }
    }
}
