//! Consensus facts that headers carry, read by nodes and light clients alike.
//!
//! Epochs run in segments of equal length: genesis starts epoch 0 at block 0 with the
//! genesis length, and governance may change the length of the epochs that follow. The last
//! block of each epoch carries the committee of the next one in a [`CommitteeChange`] digest
//! entry and, when the next epoch's length differs, an [`EpochLengthChange`] entry: anyone
//! holding a finalized boundary header knows who signs the following epoch and where it ends.

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::{BlockNumber, DigestItem, Header};

/// Engine id of block justifications: the Commonware simplex `Finalization` certificate.
pub const FINALITY_ENGINE_ID: [u8; 4] = *b"smpx";

/// Engine id of the digest entry announcing the next committee.
pub const COMMITTEE_ENGINE_ID: [u8; 4] = *b"phcm";

/// Engine id of the digest entry announcing the next epoch's new length.
pub const EPOCH_LENGTH_ENGINE_ID: [u8; 4] = *b"phel";

/// Shortest epoch: consensus needs a block besides the boundary in each.
pub const MIN_EPOCH_LENGTH: u32 = 2;
/// Longest epoch (about 69 days of 6-second blocks): committees must still change.
pub const MAX_EPOCH_LENGTH: u32 = 1_000_000;
/// Most length changes a chain's schedule records. Governance changes the length at most
/// once per epoch, each time by referendum: this is far beyond any real chain, and keeps the
/// schedule every node reads at each epoch boundary small.
pub const MAX_EPOCH_SEGMENTS: usize = 256;

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
        digest_entry(header, COMMITTEE_ENGINE_ID)
    }
}

/// The first entry of `header`'s digest with engine `id`, decoded whole: trailing bytes are
/// an error, so an entry has one reading.
fn digest_entry<T: Decode + Encode>(
    header: &Header,
    id: [u8; 4],
) -> Option<Result<T, parity_scale_codec::Error>> {
    header.digest.iter().find_map(|item| match item {
        DigestItem::Consensus(engine, data) if *engine == id => {
            Some(T::decode(&mut data.as_slice()).and_then(|value| {
                if data.len() == value.encoded_size() {
                    Ok(value)
                } else {
                    Err("trailing bytes after the digest entry".into())
                }
            }))
        }
        _ => None,
    })
}

/// Epochs from `epoch` on last `length` blocks. Announced by the last block of the epoch
/// before, only when the length changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EpochLengthChange {
    pub epoch: u64,
    pub length: u32,
}

impl EpochLengthChange {
    pub fn digest_item(&self) -> DigestItem {
        DigestItem::Consensus(EPOCH_LENGTH_ENGINE_ID, self.encode())
    }

    /// The length change a header announces: `None` if it announces none, `Some(Err)` if
    /// the entry is malformed.
    pub fn from_header(header: &Header) -> Option<Result<Self, parity_scale_codec::Error>> {
        digest_entry(header, EPOCH_LENGTH_ENGINE_ID)
    }
}

/// Where a run of equal-length epochs starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct EpochSegment {
    pub first_epoch: u64,
    pub first_block: BlockNumber,
    pub length: u32,
}

/// One epoch's blocks: `first ..= last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochBounds {
    pub epoch: u64,
    pub first: BlockNumber,
    pub last: BlockNumber,
}

impl EpochBounds {
    pub fn contains(&self, number: BlockNumber) -> bool {
        (self.first..=self.last).contains(&number)
    }

    /// Its blocks' count.
    pub fn length(&self) -> u32 {
        self.last.saturating_sub(self.first).saturating_add(1)
    }

    /// The epoch after this one, `length` blocks long (`None` past the last block number).
    pub fn next(&self, length: u32) -> Option<EpochBounds> {
        let first = self.last.checked_add(1)?;
        Some(EpochBounds {
            epoch: self.epoch.checked_add(1)?,
            first,
            last: first.checked_add(length.checked_sub(1)?)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the epoch schedule must start with epoch 0 at block 0")]
    BadStart,
    #[error("epoch length {0} is outside {MIN_EPOCH_LENGTH}..={MAX_EPOCH_LENGTH}")]
    BadLength(u32),
    #[error("the epochs from {0} on cannot change: they do not start after the last change")]
    NotContiguous(u64),
    #[error("the epoch schedule has more than {MAX_EPOCH_SEGMENTS} segments")]
    TooLong,
}

/// Which blocks each epoch holds: segments of equal-length epochs, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSchedule {
    segments: Vec<EpochSegment>,
}

impl EpochSchedule {
    /// Every epoch `length` blocks long: a chain whose length never changed.
    pub fn fixed(length: u32) -> Self {
        EpochSchedule {
            segments: vec![EpochSegment {
                first_epoch: 0,
                first_block: 0,
                length: length.clamp(MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH),
            }],
        }
    }

    /// Checks `segments` (read from state) before use: they start at genesis, each begins
    /// where the epochs of the one before end, and every length is in bounds.
    pub fn from_segments(segments: Vec<EpochSegment>) -> Result<Self, ScheduleError> {
        if segments.len() > MAX_EPOCH_SEGMENTS {
            return Err(ScheduleError::TooLong);
        }
        let first = segments.first().ok_or(ScheduleError::BadStart)?;
        if first.first_epoch != 0 || first.first_block != 0 {
            return Err(ScheduleError::BadStart);
        }
        if let Some(bad) = segments
            .iter()
            .find(|s| !(MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&s.length))
        {
            return Err(ScheduleError::BadLength(bad.length));
        }
        for pair in segments.windows(2) {
            let [a, b] = pair else { continue };
            let starts = b
                .first_epoch
                .checked_sub(a.first_epoch)
                .filter(|n| *n > 0)
                .and_then(|n| n.checked_mul(u64::from(a.length)))
                .and_then(|n| n.checked_add(u64::from(a.first_block)));
            if starts != Some(u64::from(b.first_block)) {
                return Err(ScheduleError::NotContiguous(b.first_epoch));
            }
        }
        Ok(EpochSchedule { segments })
    }

    pub fn segments(&self) -> &[EpochSegment] {
        &self.segments
    }

    /// The newest segment (a schedule always has one).
    fn latest(&self) -> EpochSegment {
        self.segments.last().copied().unwrap_or(EpochSegment {
            first_epoch: 0,
            first_block: 0,
            length: MIN_EPOCH_LENGTH,
        })
    }

    /// The length of the epochs of the newest segment.
    pub fn current_length(&self) -> u32 {
        self.latest().length
    }

    fn bounds_in(segment: &EpochSegment, epoch: u64) -> Option<EpochBounds> {
        let offset = epoch
            .checked_sub(segment.first_epoch)?
            .checked_mul(u64::from(segment.length))?;
        let first = u64::from(segment.first_block).checked_add(offset)?;
        let last = first.checked_add(u64::from(segment.length).checked_sub(1)?)?;
        Some(EpochBounds {
            epoch,
            first: BlockNumber::try_from(first).ok()?,
            last: BlockNumber::try_from(last).ok()?,
        })
    }

    /// The epoch `number` belongs to (`None` only where that epoch's last block would pass
    /// the largest block number).
    pub fn containing(&self, number: BlockNumber) -> Option<EpochBounds> {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|s| s.first_block <= number)?;
        let epoch = segment.first_epoch.checked_add(
            u64::from(number.checked_sub(segment.first_block)?)
                .checked_div(u64::from(segment.length))?,
        )?;
        Self::bounds_in(segment, epoch)
    }

    /// The blocks of `epoch`.
    pub fn bounds(&self, epoch: u64) -> Option<EpochBounds> {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|s| s.first_epoch <= epoch)?;
        Self::bounds_in(segment, epoch)
    }

    /// Epochs from `epoch` on last `length` blocks. Only the future changes: `epoch` must
    /// come after the newest segment's start. The same length again changes nothing.
    pub fn change(&mut self, epoch: u64, length: u32) -> Result<(), ScheduleError> {
        if !(MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&length) {
            return Err(ScheduleError::BadLength(length));
        }
        let latest = self.latest();
        if length == latest.length {
            return Ok(());
        }
        if epoch <= latest.first_epoch {
            return Err(ScheduleError::NotContiguous(epoch));
        }
        if self.segments.len() >= MAX_EPOCH_SEGMENTS {
            return Err(ScheduleError::TooLong);
        }
        let first = Self::bounds_in(&latest, epoch)
            .ok_or(ScheduleError::NotContiguous(epoch))?
            .first;
        self.segments.push(EpochSegment {
            first_epoch: epoch,
            first_block: first,
            length,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::H256;

    fn b(epoch: u64, first: BlockNumber, last: BlockNumber) -> Option<EpochBounds> {
        Some(EpochBounds { epoch, first, last })
    }

    #[test]
    fn epochs_and_boundaries() {
        let fixed = EpochSchedule::fixed(10);
        assert_eq!(fixed.containing(0), b(0, 0, 9));
        assert_eq!(fixed.containing(9), b(0, 0, 9));
        assert_eq!(fixed.containing(10), b(1, 10, 19));
        assert_eq!(fixed.bounds(3), b(3, 30, 39));
        // No epoch whose last block passes the largest block number.
        assert_eq!(fixed.containing(u32::MAX), None);
        assert!(fixed.containing(u32::MAX - 6).is_some());

        let mut changed = fixed.clone();
        changed.change(3, 4).unwrap();
        assert_eq!(changed.containing(29), b(2, 20, 29));
        assert_eq!(changed.containing(30), b(3, 30, 33));
        assert_eq!(changed.containing(34), b(4, 34, 37));
        assert_eq!(changed.bounds(2), b(2, 20, 29));
        assert_eq!(changed.bounds(5), b(5, 38, 41));
        assert_eq!(changed.bounds(2).and_then(|e| e.next(4)), changed.bounds(3));
        // The past is fixed; the same length again is no change.
        assert!(changed.change(3, 8).is_err());
        assert!(changed.change(2, 8).is_err());
        changed.change(9, 4).unwrap();
        assert_eq!(changed.segments().len(), 2);
        assert!(changed.change(6, 1).is_err());
        assert_eq!(
            EpochSchedule::from_segments(changed.segments().to_vec()),
            Ok(changed.clone())
        );
    }

    #[test]
    fn bad_schedules_are_refused() {
        let seg = |first_epoch, first_block, length| EpochSegment {
            first_epoch,
            first_block,
            length,
        };
        assert!(EpochSchedule::from_segments(vec![]).is_err());
        assert!(EpochSchedule::from_segments(vec![seg(1, 0, 10)]).is_err());
        assert!(EpochSchedule::from_segments(vec![seg(0, 0, 1)]).is_err());
        assert!(EpochSchedule::from_segments(vec![seg(0, 0, 10), seg(2, 21, 5)]).is_err());
        assert!(EpochSchedule::from_segments(vec![seg(0, 0, 10), seg(0, 0, 5)]).is_err());
        assert!(EpochSchedule::from_segments(vec![seg(0, 0, 10), seg(2, 20, 5)]).is_ok());
    }

    proptest::proptest! {
        /// Every block is in exactly one epoch, epochs are consecutive, and `bounds` agrees
        /// with `containing`, whatever the changes.
        #[test]
        fn schedules_tile_the_blocks(
            genesis in 2u32..50,
            changes in proptest::collection::vec((1u64..6, 2u32..50), 0..6),
            probe in 0u32..5_000,
        ) {
            let mut schedule = EpochSchedule::fixed(genesis);
            let mut epoch = 0u64;
            for (gap, length) in changes {
                epoch += gap;
                schedule.change(epoch, length).unwrap();
            }
            let here = schedule.containing(probe).unwrap();
            proptest::prop_assert!(here.contains(probe));
            proptest::prop_assert_eq!(schedule.bounds(here.epoch), Some(here));
            if let Some(next) = schedule.containing(here.last + 1) {
                proptest::prop_assert_eq!(next.epoch, here.epoch + 1);
                proptest::prop_assert_eq!(next.first, here.last + 1);
            }
            if here.epoch > 0 {
                let before = schedule.bounds(here.epoch - 1).unwrap();
                proptest::prop_assert_eq!(before.last + 1, here.first);
            }
            proptest::prop_assert_eq!(
                EpochSchedule::from_segments(schedule.segments().to_vec()),
                Ok(schedule.clone())
            );
        }

        /// Digest entries never panic on arbitrary bytes, and decode only whole.
        #[test]
        fn digest_entries_decode_checked(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let header = Header {
                parent_hash: H256::zero(),
                number: 1,
                state_root: H256::zero(),
                extrinsics_root: H256::zero(),
                digest: vec![
                    DigestItem::Consensus(EPOCH_LENGTH_ENGINE_ID, data.clone()),
                    DigestItem::Consensus(COMMITTEE_ENGINE_ID, data.clone()),
                ],
            };
            if let Some(Ok(change)) = EpochLengthChange::from_header(&header) {
                proptest::prop_assert_eq!(change.encode(), data.clone());
            }
            if let Some(Ok(change)) = CommitteeChange::from_header(&header) {
                proptest::prop_assert_eq!(change.encode(), data);
            }
        }
    }

    #[test]
    fn digest_round_trip() {
        let change = CommitteeChange {
            epoch: 3,
            keys: vec![[1; 32], [2; 32]],
        };
        let length = EpochLengthChange {
            epoch: 3,
            length: 40,
        };
        let header = Header {
            parent_hash: H256::zero(),
            number: 29,
            state_root: H256::zero(),
            extrinsics_root: H256::zero(),
            digest: vec![change.digest_item(), length.digest_item()],
        };
        assert_eq!(CommitteeChange::from_header(&header), Some(Ok(change)));
        assert_eq!(EpochLengthChange::from_header(&header), Some(Ok(length)));
        let mut bad = header.clone();
        bad.digest = vec![DigestItem::Consensus(COMMITTEE_ENGINE_ID, vec![1, 2, 3])];
        assert!(matches!(CommitteeChange::from_header(&bad), Some(Err(_))));
        assert_eq!(EpochLengthChange::from_header(&bad), None);
    }
}
