//! A receiver that blocks peers sending undecodable messages.
//!
//! Commonware's buffered broadcast drops a message it cannot decode and carries on, so a peer
//! could keep sending garbage (or blocks over the size limit) at no cost to itself. Putting
//! this in front of it makes the first such message the peer's last.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;

use commonware_codec::{Decode, Read};
use commonware_p2p::{Blocker, Message, Receiver};

pub struct Guarded<R, B, T: Read> {
    inner: R,
    blocker: B,
    config: T::Cfg,
    _message: PhantomData<fn() -> T>,
}

impl<R, B, T: Read> Guarded<R, B, T> {
    pub fn new(inner: R, blocker: B, config: T::Cfg) -> Self {
        Guarded {
            inner,
            blocker,
            config,
            _message: PhantomData,
        }
    }
}

impl<R: fmt::Debug, B, T: Read> fmt::Debug for Guarded<R, B, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<R, B, T> Receiver for Guarded<R, B, T>
where
    R: Receiver,
    B: Blocker<PublicKey = R::PublicKey>,
    T: Read + Send + 'static,
    T::Cfg: Send,
{
    type Error = R::Error;
    type PublicKey = R::PublicKey;

    async fn recv(&mut self) -> Result<Message<Self::PublicKey>, Self::Error> {
        loop {
            let (peer, message) = self.inner.recv().await?;
            // Decoding refuses trailing bytes and anything over the configured size.
            if T::decode_cfg(message.clone(), &self.config).is_ok() {
                return Ok((peer, message));
            }
            tracing::warn!(target: "p2p", ?peer, len = message.as_ref().len(), "blocking a peer that sent an undecodable message");
            self.blocker.block(peer);
        }
    }

    fn capacity(&self) -> NonZeroUsize {
        self.inner.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::block::{ConsensusBlock, MAX_BLOCK_BYTES};
    use commonware_codec::Encode;
    use phala_primitives::{Block, H256, Header};

    fn valid(bytes: &[u8]) -> bool {
        let buf = commonware_runtime::IoBuf::from(bytes.to_vec());
        ConsensusBlock::decode_cfg(buf, &MAX_BLOCK_BYTES).is_ok()
    }

    #[test]
    fn accepts_blocks_only() {
        let block = ConsensusBlock::new(Block {
            header: Header {
                parent_hash: H256([1; 32]),
                number: 1,
                state_root: H256([2; 32]),
                extrinsics_root: H256([3; 32]),
                digest: vec![],
            },
            extrinsics: vec![],
        });
        let bytes = block.encode().to_vec();
        assert!(valid(&bytes));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(!valid(&trailing));
        assert!(!valid(&bytes[..bytes.len() - 1]));
        assert!(!valid(&[0xff; 40]));
    }
}
