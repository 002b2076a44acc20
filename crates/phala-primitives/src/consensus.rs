//! Consensus facts that headers carry, read by nodes and light clients alike.
//!
//! Epochs have a fixed length `L` (a genesis parameter): epoch `e` is the blocks
//! `e·L ..= e·L + L − 1`, epoch 0 starting with genesis. The last block of each epoch carries
//! the committee of the next one in a [`CommitteeChange`] digest entry, so anyone holding a
//! finalized boundary header knows who signs the following epoch.

use parity_scale_codec::{Decode, Encode};

use crate::{BlockNumber, DigestItem, Header};

/// Engine id of block justifications: the Commonware simplex `Finalization` certificate.
pub const FINALITY_ENGINE_ID: [u8; 4] = *b"smpx";

/// Engine id of the digest entry announcing the next committee.
pub const COMMITTEE_ENGINE_ID: [u8; 4] = *b"phcm";

/// Most validators a committee may seat. Nodes size their p2p buffers and message limits
/// for it, so governance can grow a committee up to it without new node software.
pub const MAX_COMMITTEE_SIZE: u32 = 128;
/// Fewest seats governance may set: four tolerate one faulty validator, and fewer would
/// let one stopped validator halt the chain and with it the governance that could mend it.
/// (A genesis may seat fewer, as development chains do; elections seat whoever stands.)
pub const MIN_GOVERNED_COMMITTEE_SIZE: u32 = 4;

/// The committee that finalizes `epoch`: its members' ed25519 consensus keys.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CommitteeChange {
    pub epoch: u64,
    pub keys: Vec<[u8; 32]>,
}

impl CommitteeChange {
    pub fn digest_item(&self) -> DigestItem {
        DigestItem::Consensus(COMMITTEE_ENGINE_ID, self.encode())
    }

    /// The committee change a header announces: `None` if it announces none, `Some(Err)` if
    /// the entry is malformed.
    pub fn from_header(header: &Header) -> Option<Result<Self, parity_scale_codec::Error>> {
        header.digest.iter().find_map(|item| match item {
            DigestItem::Consensus(id, data) if *id == COMMITTEE_ENGINE_ID => {
                Some(Self::decode(&mut data.as_slice()).and_then(|c| {
                    if data.len() == c.encoded_size() {
                        Ok(c)
                    } else {
                        Err("trailing bytes after the committee".into())
                    }
                }))
            }
            _ => None,
        })
    }
}

/// The epoch a block belongs to.
pub fn epoch_of(number: BlockNumber, epoch_length: u32) -> u64 {
    u64::from(number)
        .checked_div(u64::from(epoch_length))
        .unwrap_or(0)
}

/// Whether `number` is the last block of its epoch (it carries the next committee).
pub fn is_epoch_boundary(number: BlockNumber, epoch_length: u32) -> bool {
    epoch_length > 0
        && u64::from(number)
            .saturating_add(1)
            .checked_rem(u64::from(epoch_length))
            == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::H256;

    #[test]
    fn epochs_and_boundaries() {
        assert_eq!(epoch_of(0, 10), 0);
        assert_eq!(epoch_of(9, 10), 0);
        assert_eq!(epoch_of(10, 10), 1);
        assert!(is_epoch_boundary(9, 10));
        assert!(!is_epoch_boundary(10, 10));
        assert!(!is_epoch_boundary(5, 0));
    }

    #[test]
    fn digest_round_trip() {
        let change = CommitteeChange {
            epoch: 3,
            keys: vec![[1; 32], [2; 32]],
        };
        let header = Header {
            parent_hash: H256::zero(),
            number: 29,
            state_root: H256::zero(),
            extrinsics_root: H256::zero(),
            digest: vec![change.digest_item()],
        };
        assert_eq!(CommitteeChange::from_header(&header), Some(Ok(change)));
        let mut bad = header.clone();
        bad.digest = vec![DigestItem::Consensus(COMMITTEE_ENGINE_ID, vec![1, 2, 3])];
        assert!(matches!(CommitteeChange::from_header(&bad), Some(Err(_))));
    }
}
