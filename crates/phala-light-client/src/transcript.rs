//! Randomness for batch signature checks where there is none: on chain.
//!
//! A batch check of `n` ed25519 signatures weighs each by a random scalar; a forger who knew
//! the scalars in advance could make invalid signatures cancel out. On chain every node must
//! draw the same scalars, so they come from a hash of everything checked (the Fiat–Shamir
//! way): the submitter fixes the certificate before the scalars exist, and any change to it
//! changes them all. The stream is BLAKE2b-256 in counter mode over a 256-bit seed.

use core::convert::Infallible;

use phala_primitives::hashing::blake2_256;
use rand_core::{TryCryptoRng, TryRng};

/// A deterministic stream keyed by a hash of a transcript.
#[derive(Clone)]
pub struct TranscriptRng {
    seed: [u8; 32],
    counter: u64,
    buffer: [u8; 32],
    used: usize,
}

impl TranscriptRng {
    /// The stream for `parts`, each length-prefixed so no two transcripts share a seed.
    pub fn new(domain: &[u8], parts: &[&[u8]]) -> Self {
        let mut data = Vec::new();
        for part in core::iter::once(&domain).chain(parts) {
            data.extend_from_slice(&(part.len() as u64).to_le_bytes());
            data.extend_from_slice(part);
        }
        TranscriptRng {
            seed: blake2_256(&data),
            counter: 0,
            buffer: [0; 32],
            used: 32,
        }
    }

    fn refill(&mut self) {
        let mut block = [0u8; 40];
        let (seed, counter) = block.split_at_mut(32);
        seed.copy_from_slice(&self.seed);
        counter.copy_from_slice(&self.counter.to_le_bytes());
        self.buffer = blake2_256(&block);
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }

    fn fill(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used >= self.buffer.len() {
                self.refill();
            }
            *byte = self.buffer.get(self.used).copied().unwrap_or(0);
            self.used = self.used.saturating_add(1);
        }
    }
}

impl TryRng for TranscriptRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dest);
        Ok(())
    }
}

impl TryCryptoRng for TranscriptRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng as _;

    #[test]
    fn same_transcript_same_stream_and_parts_are_delimited() {
        let mut a = TranscriptRng::new(b"d", &[b"ab", b"c"]);
        let mut b = TranscriptRng::new(b"d", &[b"ab", b"c"]);
        let mut c = TranscriptRng::new(b"d", &[b"a", b"bc"]);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        // The stream keeps going past one block.
        let mut long = [0u8; 100];
        a.fill_bytes(&mut long);
        assert!(long.iter().any(|b| *b != 0));
        assert_ne!(long[..32], long[32..64]);
    }
}
