//! Substrate's `BoundedVec`: a vector whose decoder refuses more than `N` items before
//! reading them, so a stored or submitted list can never grow past what the runtime
//! budgets for. On the wire and in metadata it is a plain `Vec<T>`
//! (`bounded_collections::bounded_vec::BoundedVec`).

use core::ops::Deref;

use parity_scale_codec::{Compact, Decode, Encode, Error, Input, Output};
use scale_info::{Path, Type, TypeInfo, TypeParameter, build::Fields, meta_type};

/// At most `N` items of `T`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BoundedVec<T, const N: u32>(Vec<T>);

impl<T, const N: u32> Default for BoundedVec<T, N> {
    fn default() -> Self {
        BoundedVec(Vec::new())
    }
}

impl<T, const N: u32> BoundedVec<T, N> {
    pub const BOUND: u32 = N;

    /// `None` if `items` holds more than `N`.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= N as usize).then_some(BoundedVec(items))
    }

    pub fn into_inner(self) -> Vec<T> {
        self.0
    }

    /// Appends `item`, or gives it back if the vector is full.
    pub fn try_push(&mut self, item: T) -> Result<(), T> {
        if self.0.len() >= N as usize {
            return Err(item);
        }
        self.0.push(item);
        Ok(())
    }

    /// Inserts at `index` (clamped to the end), or gives `item` back if full.
    pub fn try_insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if self.0.len() >= N as usize {
            return Err(item);
        }
        let index = index.min(self.0.len());
        self.0.insert(index, item);
        Ok(())
    }

    pub fn as_mut_vec(&mut self) -> BoundedMut<'_, T, N> {
        BoundedMut(&mut self.0)
    }

    pub fn is_full(&self) -> bool {
        self.0.len() >= N as usize
    }
}

/// Mutable access that can only shrink or reorder the vector (growing goes through
/// `try_push`).
pub struct BoundedMut<'a, T, const N: u32>(&'a mut Vec<T>);

impl<T, const N: u32> BoundedMut<'_, T, N> {
    pub fn retain(&mut self, f: impl FnMut(&T) -> bool) {
        self.0.retain(f);
    }

    pub fn remove(&mut self, index: usize) -> Option<T> {
        (index < self.0.len()).then(|| self.0.remove(index))
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.0.get_mut(index)
    }

    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    pub fn sort_by_key<K: Ord>(&mut self, f: impl FnMut(&T) -> K) {
        self.0.sort_by_key(f);
    }

    pub fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
}

impl<T, const N: u32> Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Encode, const N: u32> Encode for BoundedVec<T, N> {
    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
    fn encode_to<O: Output + ?Sized>(&self, dest: &mut O) {
        self.0.encode_to(dest)
    }
}

impl<T: Decode, const N: u32> Decode for BoundedVec<T, N> {
    fn decode<I: Input>(input: &mut I) -> Result<Self, Error> {
        let len = Compact::<u32>::decode(input)?.0;
        if len > N {
            return Err("BoundedVec exceeds its limit".into());
        }
        // The length was checked: at most N items are read, and each must be in the input.
        let mut items = Vec::with_capacity(len.min(1024) as usize);
        for _ in 0..len {
            items.push(T::decode(input)?);
        }
        Ok(BoundedVec(items))
    }
}

impl<T: TypeInfo + 'static, const N: u32> TypeInfo for BoundedVec<T, N> {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("BoundedVec", "bounded_collections::bounded_vec"))
            .type_params(vec![
                TypeParameter::new("T", Some(meta_type::<T>())),
                TypeParameter::new("S", None),
            ])
            .composite(Fields::unnamed().field(|f| f.ty::<Vec<T>>().type_name("Vec<T>")))
    }
}

/// At most `N` bytes: a `BoundedVec<u8, N>` read in one piece.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoundedBytes<const N: u32>(Vec<u8>);

impl<const N: u32> BoundedBytes<N> {
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() <= N as usize).then_some(BoundedBytes(bytes))
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl<const N: u32> Deref for BoundedBytes<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: u32> Encode for BoundedBytes<N> {
    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
    fn encode_to<O: Output + ?Sized>(&self, dest: &mut O) {
        self.0.encode_to(dest)
    }
}

impl<const N: u32> Decode for BoundedBytes<N> {
    fn decode<I: Input>(input: &mut I) -> Result<Self, Error> {
        let len = Compact::<u32>::decode(input)?.0;
        if len > N {
            return Err("BoundedVec exceeds its limit".into());
        }
        if let Some(remaining) = input.remaining_len()?
            && remaining < len as usize
        {
            return Err("not enough input for the BoundedVec".into());
        }
        let mut bytes = vec![0u8; len as usize];
        input.read(&mut bytes)?;
        Ok(BoundedBytes(bytes))
    }
}

impl<const N: u32> TypeInfo for BoundedBytes<N> {
    type Identity = Self;
    fn type_info() -> Type {
        BoundedVec::<u8, N>::type_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_more_than_the_bound() {
        let four = vec![1u8, 2, 3, 4].encode();
        assert!(BoundedBytes::<3>::decode(&mut four.as_slice()).is_err());
        assert!(BoundedVec::<u8, 3>::decode(&mut four.as_slice()).is_err());
        assert_eq!(
            BoundedBytes::<4>::decode(&mut four.as_slice())
                .unwrap()
                .len(),
            4
        );
        // A huge declared length with no data fails without allocating it.
        let lie = Compact(1_000_000u32).encode();
        assert!(BoundedBytes::<2_000_000>::decode(&mut lie.as_slice()).is_err());
        assert!(BoundedVec::<u64, 2_000_000>::decode(&mut lie.as_slice()).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = BoundedBytes::<128>::decode(&mut bytes.as_slice());
            let _ = BoundedVec::<(u32, u64), 16>::decode(&mut bytes.as_slice());
        }

        #[test]
        fn round_trips(items in proptest::collection::vec(any::<u32>(), 0..20)) {
            let v = BoundedVec::<u32, 20>::new(items.clone()).unwrap();
            prop_assert_eq!(v.encode(), items.encode());
            prop_assert_eq!(BoundedVec::<u32, 20>::decode(&mut v.encode().as_slice()).unwrap(), v);
        }
    }
}
