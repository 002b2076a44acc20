//! Heartbeat challenges: each block's seed and target, which workers they pick, and how to
//! find those workers without looking at the others.
//!
//! A worker is challenged by a block when `blake2_256(pubkey) XOR seed ≤ target`. The target
//! aims at `challenges_per_block` challenges among `n` computing workers and at most
//! `worker_challenge_rate` per worker per block:
//! `target = (2^256−1 >> 24) · floor(min(challenges/n, rate) · 2^24)`.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::Params;

/// A 256-bit number, big-endian: the target, and hashes compared against it.
pub type Target = [u8; 32];

/// What a block asks of workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct Challenge {
    /// From the chain's randomness at this block.
    pub seed: [u8; 32],
    /// Workers whose `blake2_256(pubkey) XOR seed` is at most this are challenged.
    pub target: Target,
}

/// The target for `n` computing workers.
pub fn online_target(params: &Params, n: u32) -> Target {
    if n == 0 {
        return [0; 32];
    }
    const ONE: u128 = 1 << 24;
    // floor(min(a, b)·2^24) = min(floor(a·2^24), floor(b·2^24)).
    let by_count = u128::from(params.challenges_per_block) * ONE / u128::from(n);
    let by_rate = params.worker_challenge_rate >> 40;
    let m = by_count.min(by_rate).min(ONE);
    if m == 0 {
        return [0; 32];
    }
    // m·(2^232 − 1) = m·2^232 − m, as two 128-bit halves; for m = 2^24 the high half's
    // shift drops the carry that the borrow below takes back.
    let hi = (m << 104).wrapping_sub(1);
    let lo = 0u128.wrapping_sub(m);
    join(hi, lo)
}

/// The hash a worker's challenges are decided by.
pub fn worker_hash(pubkey: &[u8; 32]) -> [u8; 32] {
    sp_crypto_hashing::blake2_256(pubkey)
}

impl Challenge {
    /// Whether the worker whose [`worker_hash`] is `hash` must answer this challenge.
    pub fn picks(&self, hash: &[u8; 32]) -> bool {
        let mut x = [0u8; 32];
        for (i, byte) in x.iter_mut().enumerate() {
            *byte = hash[i] ^ self.seed[i];
        }
        x <= self.target
    }

    /// The hashes this challenge picks, as disjoint inclusive ranges: a gatekeeper that
    /// keeps workers ordered by hash finds the challenged ones with one range query each,
    /// never looking at the rest.
    pub fn ranges(&self) -> ChallengeRanges {
        let (seed_hi, seed_lo) = split(&self.seed);
        let (t_hi, t_lo) = split(&self.target);
        let (x_hi, x_lo) = (t_hi ^ seed_hi, t_lo ^ seed_lo);
        let mut ranges = Vec::new();
        // x ≤ T: either x = T, or x matches T above some bit i where T has a 1 and x a 0.
        for bit in (0..256u32).rev() {
            if !get(t_hi, t_lo, bit) {
                continue;
            }
            // h = x XOR seed: bits above i are T XOR seed, bit i is seed's, below free.
            let (mut hi, mut lo) = clear_up_to(x_hi, x_lo, bit);
            if get(seed_hi, seed_lo, bit) {
                (hi, lo) = set(hi, lo, bit);
            }
            let (end_hi, end_lo) = fill_below(hi, lo, bit);
            ranges.push((join(hi, lo), join(end_hi, end_lo)));
        }
        let exact = join(x_hi, x_lo);
        ranges.push((exact, exact));
        ranges.sort();
        ChallengeRanges(ranges)
    }
}

/// Inclusive `(first, last)` ranges of picked hashes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeRanges(pub Vec<([u8; 32], [u8; 32])>);

fn split(bytes: &[u8; 32]) -> (u128, u128) {
    let mut hi = [0u8; 16];
    let mut lo = [0u8; 16];
    hi.copy_from_slice(&bytes[..16]);
    lo.copy_from_slice(&bytes[16..]);
    (u128::from_be_bytes(hi), u128::from_be_bytes(lo))
}

fn join(hi: u128, lo: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&hi.to_be_bytes());
    out[16..].copy_from_slice(&lo.to_be_bytes());
    out
}

fn get(hi: u128, lo: u128, bit: u32) -> bool {
    if bit >= 128 {
        hi >> (bit - 128) & 1 == 1
    } else {
        lo >> bit & 1 == 1
    }
}

fn set(hi: u128, lo: u128, bit: u32) -> (u128, u128) {
    if bit >= 128 {
        (hi | 1 << (bit - 128), lo)
    } else {
        (hi, lo | 1 << bit)
    }
}

/// Clears bit `bit` and every bit below it.
fn clear_up_to(hi: u128, lo: u128, bit: u32) -> (u128, u128) {
    if bit >= 128 {
        let keep = u128::MAX.checked_shl(bit - 127).unwrap_or(0);
        (hi & keep, 0)
    } else {
        let keep = u128::MAX.checked_shl(bit + 1).unwrap_or(0);
        (hi, lo & keep)
    }
}

/// Sets every bit below `bit`.
fn fill_below(hi: u128, lo: u128, bit: u32) -> (u128, u128) {
    if bit >= 128 {
        let fill = (1u128 << (bit - 128)) - 1;
        (hi | fill, u128::MAX)
    } else {
        let fill = (1u128 << bit) - 1;
        (hi, lo | fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Economics;
    use proptest::prelude::*;

    fn params(block_ms: u64) -> Params {
        Params::from_economics(&Economics::default(), block_ms).unwrap()
    }

    fn m_of(target: &Target) -> u128 {
        // target = m·(2^232−1): m is the top 24 bits plus the carry of the low ones.
        let (hi, _) = split(target);
        (hi >> 104) + 1
    }

    #[test]
    fn the_target_aims_at_twenty_per_block_and_two_per_worker_hour() {
        // 1 s blocks: 2 per hour is 1/1800 per block, the cap until 36,000 workers.
        let p = params(1000);
        assert_eq!(online_target(&p, 0), [0; 32]);
        let few = online_target(&p, 100);
        assert_eq!(m_of(&few), (1u128 << 24) * 2 / 3600);
        assert_eq!(online_target(&p, 36_000), few);
        // Beyond that, 20 per block shared among all.
        let many = online_target(&p, 100_000);
        assert_eq!(m_of(&many), 20 * (1u128 << 24) / 100_000);
        // Everyone, every block: 2^256 − 2^24.
        let mut all = p;
        all.worker_challenge_rate = 1 << 64;
        let everyone = online_target(&all, 1);
        assert_eq!(split(&everyone), (u128::MAX, u128::MAX - (1 << 24) + 1));
    }

    #[test]
    fn about_the_aimed_share_of_workers_is_picked() {
        let p = params(1000);
        let n = 100_000u32;
        let challenge = Challenge {
            seed: worker_hash(b"block 7 randomness, any 32 bytes"),
            target: online_target(&p, n),
        };
        let picked = (0..n)
            .filter(|i| {
                let mut key = [0u8; 32];
                key[..4].copy_from_slice(&i.to_le_bytes());
                challenge.picks(&worker_hash(&key))
            })
            .count();
        // 20 expected: a Poisson count, far inside these bounds.
        assert!((5..=45).contains(&picked), "{picked}");
    }

    proptest! {
        #[test]
        fn ranges_pick_exactly_what_picks_picks(
            seed in any::<[u8; 32]>(),
            m in 0u32..=(1 << 24),
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..64),
            near in any::<[u8; 32]>(),
        ) {
            let mut p = params(1000);
            p.worker_challenge_rate = 1 << 64;
            p.challenges_per_block = m;
            let challenge = Challenge { seed, target: online_target(&p, 1 << 24) };
            let ranges = challenge.ranges();
            // Hashes at and around the boundary, where a range bug would show.
            let mut probes = hashes;
            let boundary = {
                let mut b = [0u8; 32];
                for i in 0..32 { b[i] = challenge.target[i] ^ seed[i]; }
                b
            };
            probes.push(boundary);
            let mut flipped = boundary;
            flipped[31] ^= 1;
            probes.push(flipped);
            let mut mixed = boundary;
            mixed[..16].copy_from_slice(&near[..16]);
            probes.push(mixed);
            for h in probes {
                let in_ranges = ranges.0.iter().any(|(a, b)| *a <= h && h <= *b);
                prop_assert_eq!(in_ranges, challenge.picks(&h));
            }
            // Disjoint and ordered.
            for pair in ranges.0.windows(2) {
                prop_assert!(pair[0].1 < pair[1].0);
            }
        }
    }
}
