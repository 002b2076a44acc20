//! Who a node is on the p2p network when it is not a validator: a full node's ed25519 key,
//! made once and kept in its base path so validators that admit it keep recognizing it, and
//! the `KEY@HOST:PORT` follower entries validators admit.
//!
//! The node key authenticates p2p connections only; it signs nothing on chain and guards no
//! funds or confidential data (like Substrate's `network/secret_ed25519`), so it is kept as a
//! private (0600) file rather than sealed.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use phala_keys::{Ed25519Pair, Zeroizing};

use crate::NodeError;

/// The file in a base path holding a full node's p2p key (hex seed).
pub const NODE_KEY_FILE: &str = "node-key";

/// The node's p2p key from `base/node-key`, created on first use.
pub fn load_or_create_node_key(base: &Path) -> Result<Ed25519Pair, NodeError> {
    let path = base.join(NODE_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => parse_node_key(&bytes).map_err(|why| {
            NodeError::Config(format!(
                "{} is not a node key ({why}); delete it to make a new one",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pair = Ed25519Pair::generate()
                .map_err(|e| NodeError::Config(format!("cannot make a node key: {e}")))?;
            std::fs::create_dir_all(base)
                .map_err(|e| NodeError::Config(format!("cannot create {}: {e}", base.display())))?;
            let text = Zeroizing::new(format!("0x{}\n", hex::encode(*pair.seed())));
            write_private(&path, text.as_bytes())
                .map_err(|e| NodeError::Config(format!("cannot write {}: {e}", path.display())))?;
            Ok(pair)
        }
        Err(e) => Err(NodeError::Config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn parse_node_key(bytes: &[u8]) -> Result<Ed25519Pair, &'static str> {
    // 0x + 64 hex digits + optional newline; anything longer is not ours.
    if bytes.len() > 80 {
        return Err("too long");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not text")?.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, seed.as_mut()).map_err(|_| "not 32 bytes of hex")?;
    Ok(Ed25519Pair::from_seed(&seed))
}

/// Writes `bytes` to `path` readable by the owner only, all or nothing: a crash leaves either
/// no file or the whole one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A full node a validator admits to its p2p network: `0xKEY@HOST:PORT`.
#[derive(Clone, PartialEq, Eq)]
pub struct Follower {
    pub key: [u8; 32],
    pub address: SocketAddr,
}

impl fmt::Display for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}@{}", hex::encode(self.key), self.address)
    }
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Follower {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use std::net::ToSocketAddrs;
        let usage = || {
            format!("{s:?} is not 0xKEY@HOST:PORT (KEY: the 32-byte p2p key a full node prints)")
        };
        let (key, address) = s.split_once('@').ok_or_else(usage)?;
        let digits = key.strip_prefix("0x").ok_or_else(usage)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| usage())?;
        // Not every 32 bytes are an ed25519 point.
        commonware_codec_check(&bytes)
            .ok_or_else(|| format!("{s:?}: 0x{digits} is not an ed25519 public key"))?;
        let address = address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("{s:?}: cannot resolve {address:?}"))?;
        Ok(Follower {
            key: bytes,
            address,
        })
    }
}

fn commonware_codec_check(bytes: &[u8; 32]) -> Option<()> {
    use commonware_codec::DecodeExt;
    commonware_cryptography::ed25519::PublicKey::decode(bytes::Bytes::copy_from_slice(bytes))
        .ok()
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_node_key(dir.path()).unwrap();
        let again = load_or_create_node_key(dir.path()).unwrap();
        assert_eq!(first.public(), again.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(NODE_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            load_or_create_node_key(other.path()).unwrap().public(),
            first.public()
        );
    }

    #[test]
    fn a_damaged_node_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [&b"0x1234"[..], b"", &[0xff; 40], &[b'a'; 200]] {
            std::fs::write(dir.path().join(NODE_KEY_FILE), bad).unwrap();
            let err = load_or_create_node_key(dir.path()).unwrap_err().to_string();
            assert!(err.contains("is not a node key"), "{err}");
        }
    }

    #[test]
    fn followers_parse_and_print() {
        let key = Ed25519Pair::from_uri("//Ferdie").unwrap().public();
        let text = format!("0x{}@127.0.0.1:30400", hex::encode(key));
        let follower: Follower = text.parse().unwrap();
        assert_eq!(follower.key, key);
        assert_eq!(follower.to_string(), text);
        for bad in [
            "",
            "127.0.0.1:30400",
            "0x12@127.0.0.1:30400",
            &format!("{}@127.0.0.1:30400", hex::encode(key)),
            &format!("0x{}@nowhere", hex::encode(key)),
        ] {
            assert!(bad.parse::<Follower>().is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn follower_parsing_never_panics(s in ".{0,120}") {
            let _ = s.parse::<Follower>();
        }

        #[test]
        fn node_key_parsing_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = parse_node_key(&bytes);
        }
    }
}
