//! Typed storage items. Each item is declared once and used both to read and write state and
//! to describe itself in metadata, so the key layout clients compute can never drift from the
//! one the runtime uses.

use core::marker::PhantomData;

use frame_metadata::v14::{
    StorageEntryMetadata, StorageEntryModifier, StorageEntryType, StorageHasher,
};
use parity_scale_codec::{Decode, Encode};
use phala_primitives::storage::{self, Hasher};
use scale_info::{TypeInfo, meta_type};

use crate::Ext;

fn decode_or_poison<V: Decode>(ext: &Ext, key: &[u8], bytes: Vec<u8>) -> Option<V> {
    match V::decode(&mut bytes.as_slice()) {
        Ok(v) => Some(v),
        Err(e) => {
            ext.poison(format!(
                "stored value under 0x{} does not decode: {e}",
                hex_key(key)
            ));
            None
        }
    }
}

fn hex_key(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn metadata_hasher(h: Hasher) -> StorageHasher {
    match h {
        Hasher::Blake2_128 => StorageHasher::Blake2_128,
        Hasher::Blake2_256 => StorageHasher::Blake2_256,
        Hasher::Blake2_128Concat => StorageHasher::Blake2_128Concat,
        Hasher::Twox128 => StorageHasher::Twox128,
        Hasher::Twox256 => StorageHasher::Twox256,
        Hasher::Twox64Concat => StorageHasher::Twox64Concat,
        Hasher::Identity => StorageHasher::Identity,
    }
}

/// Whether a missing entry reads as the type's default (and metadata says so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Optional,
    Default,
}

/// A single value: key `twox128(module) ‖ twox128(name)`.
pub struct StorageValue<V> {
    pub module: &'static str,
    pub name: &'static str,
    pub query: Query,
    pub docs: &'static [&'static str],
    _v: PhantomData<fn() -> V>,
}

impl<V: Encode + Decode> StorageValue<V> {
    pub const fn new(
        module: &'static str,
        name: &'static str,
        query: Query,
        docs: &'static [&'static str],
    ) -> Self {
        StorageValue {
            module,
            name,
            query,
            docs,
            _v: PhantomData,
        }
    }

    pub fn key(&self) -> Vec<u8> {
        storage::prefix(self.module, self.name)
    }

    pub fn get(&self, ext: &Ext) -> Option<V> {
        let key = self.key();
        ext.get(&key)
            .and_then(|bytes| decode_or_poison(ext, &key, bytes))
    }

    pub fn put(&self, ext: &mut Ext, value: &V) {
        ext.set(self.key(), value.encode());
    }

    pub fn kill(&self, ext: &mut Ext) {
        ext.remove(self.key());
    }

    /// The value, removed from storage.
    pub fn take(&self, ext: &mut Ext) -> Option<V> {
        let value = self.get(ext);
        if value.is_some() {
            self.kill(ext);
        }
        value
    }

    pub fn exists(&self, ext: &Ext) -> bool {
        ext.get(&self.key()).is_some()
    }
}

impl<V: Encode + Decode + Default> StorageValue<V> {
    pub fn get_or_default(&self, ext: &Ext) -> V {
        self.get(ext).unwrap_or_default()
    }
}

impl<V: Encode + Decode + TypeInfo + 'static> StorageValue<V> {
    /// Metadata of an optional value whose type has no default (absent reads as `None`).
    pub fn metadata_optional(&self) -> StorageEntryMetadata {
        entry(
            self.name,
            Query::Optional,
            StorageEntryType::Plain(meta_type::<V>()),
            vec![0],
            self.docs,
        )
    }
}

impl<V: Encode + Decode + Default + TypeInfo + 'static> StorageValue<V> {
    pub fn metadata(&self) -> StorageEntryMetadata {
        entry(
            self.name,
            self.query,
            StorageEntryType::Plain(meta_type::<V>()),
            default_bytes::<V>(self.query),
            self.docs,
        )
    }
}

/// A map: key `twox128(module) ‖ twox128(name) ‖ hasher(SCALE(key))`.
pub struct StorageMap<K, V> {
    pub module: &'static str,
    pub name: &'static str,
    pub hasher: Hasher,
    pub query: Query,
    pub docs: &'static [&'static str],
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<K: Encode, V: Encode + Decode> StorageMap<K, V> {
    pub const fn new(
        module: &'static str,
        name: &'static str,
        hasher: Hasher,
        query: Query,
        docs: &'static [&'static str],
    ) -> Self {
        StorageMap {
            module,
            name,
            hasher,
            query,
            docs,
            _kv: PhantomData,
        }
    }

    pub fn prefix(&self) -> Vec<u8> {
        storage::prefix(self.module, self.name)
    }

    pub fn key(&self, k: &K) -> Vec<u8> {
        storage::map_key(self.module, self.name, self.hasher, &k.encode())
    }

    pub fn get(&self, ext: &Ext, k: &K) -> Option<V> {
        let key = self.key(k);
        ext.get(&key)
            .and_then(|bytes| decode_or_poison(ext, &key, bytes))
    }

    pub fn contains(&self, ext: &Ext, k: &K) -> bool {
        ext.get(&self.key(k)).is_some()
    }

    pub fn insert(&self, ext: &mut Ext, k: &K, value: &V) {
        ext.set(self.key(k), value.encode());
    }

    pub fn remove(&self, ext: &mut Ext, k: &K) {
        ext.remove(self.key(k));
    }
}

impl<K: Encode, V: Encode + Decode + Default> StorageMap<K, V> {
    pub fn get_or_default(&self, ext: &Ext, k: &K) -> V {
        self.get(ext, k).unwrap_or_default()
    }
}

impl<K: Encode + TypeInfo + 'static, V: Encode + Decode + TypeInfo + 'static> StorageMap<K, V> {
    /// Metadata of an optional entry whose value type has no default (absent reads as
    /// `None`).
    pub fn metadata_optional(&self) -> StorageEntryMetadata {
        let ty = StorageEntryType::Map {
            hashers: vec![metadata_hasher(self.hasher)],
            key: meta_type::<K>(),
            value: meta_type::<V>(),
        };
        entry(self.name, Query::Optional, ty, vec![0], self.docs)
    }
}

impl<K: Encode + TypeInfo + 'static, V: Encode + Decode + Default + TypeInfo + 'static>
    StorageMap<K, V>
{
    pub fn metadata(&self) -> StorageEntryMetadata {
        let ty = StorageEntryType::Map {
            hashers: vec![metadata_hasher(self.hasher)],
            key: meta_type::<K>(),
            value: meta_type::<V>(),
        };
        entry(
            self.name,
            self.query,
            ty,
            default_bytes::<V>(self.query),
            self.docs,
        )
    }
}

fn default_bytes<V: Encode + Default>(query: Query) -> Vec<u8> {
    match query {
        Query::Default => V::default().encode(),
        // Optional entries declare the encoding of `None`.
        Query::Optional => vec![0],
    }
}

fn entry(
    name: &'static str,
    query: Query,
    ty: StorageEntryType,
    default: Vec<u8>,
    docs: &'static [&'static str],
) -> StorageEntryMetadata {
    StorageEntryMetadata {
        name,
        modifier: match query {
            Query::Optional => StorageEntryModifier::Optional,
            Query::Default => StorageEntryModifier::Default,
        },
        ty,
        default,
        docs: docs.to_vec(),
    }
}

/// A double map: key `twox128(module) ‖ twox128(name) ‖ h1(SCALE(k1)) ‖ h2(SCALE(k2))`.
pub struct StorageDoubleMap<K1, K2, V> {
    pub module: &'static str,
    pub name: &'static str,
    pub hasher1: Hasher,
    pub hasher2: Hasher,
    pub query: Query,
    pub docs: &'static [&'static str],
    _kv: PhantomData<fn() -> (K1, K2, V)>,
}

impl<K1: Encode, K2: Encode, V: Encode + Decode> StorageDoubleMap<K1, K2, V> {
    pub const fn new(
        module: &'static str,
        name: &'static str,
        hasher1: Hasher,
        hasher2: Hasher,
        query: Query,
        docs: &'static [&'static str],
    ) -> Self {
        StorageDoubleMap {
            module,
            name,
            hasher1,
            hasher2,
            query,
            docs,
            _kv: PhantomData,
        }
    }

    pub fn key(&self, k1: &K1, k2: &K2) -> Vec<u8> {
        storage::double_map_key(
            self.module,
            self.name,
            self.hasher1,
            &k1.encode(),
            self.hasher2,
            &k2.encode(),
        )
    }

    pub fn get(&self, ext: &Ext, k1: &K1, k2: &K2) -> Option<V> {
        let key = self.key(k1, k2);
        ext.get(&key)
            .and_then(|bytes| decode_or_poison(ext, &key, bytes))
    }

    pub fn insert(&self, ext: &mut Ext, k1: &K1, k2: &K2, value: &V) {
        ext.set(self.key(k1, k2), value.encode());
    }

    pub fn remove(&self, ext: &mut Ext, k1: &K1, k2: &K2) {
        ext.remove(self.key(k1, k2));
    }
}

impl<K1: Encode, K2: Encode, V: Encode + Decode + Default> StorageDoubleMap<K1, K2, V> {
    pub fn get_or_default(&self, ext: &Ext, k1: &K1, k2: &K2) -> V {
        self.get(ext, k1, k2).unwrap_or_default()
    }
}

impl<
    K1: Encode + TypeInfo + 'static,
    K2: Encode + TypeInfo + 'static,
    V: Encode + Decode + TypeInfo + 'static,
> StorageDoubleMap<K1, K2, V>
{
    /// Metadata of an optional entry whose value type has no default (absent reads as `None`).
    pub fn metadata_optional(&self) -> StorageEntryMetadata {
        let ty = StorageEntryType::Map {
            hashers: vec![metadata_hasher(self.hasher1), metadata_hasher(self.hasher2)],
            key: meta_type::<(K1, K2)>(),
            value: meta_type::<V>(),
        };
        entry(self.name, Query::Optional, ty, vec![0], self.docs)
    }

    pub fn contains(&self, ext: &Ext, k1: &K1, k2: &K2) -> bool {
        ext.get(&self.key(k1, k2)).is_some()
    }
}

impl<
    K1: Encode + TypeInfo + 'static,
    K2: Encode + TypeInfo + 'static,
    V: Encode + Decode + Default + TypeInfo + 'static,
> StorageDoubleMap<K1, K2, V>
{
    pub fn metadata(&self) -> StorageEntryMetadata {
        let ty = StorageEntryType::Map {
            hashers: vec![metadata_hasher(self.hasher1), metadata_hasher(self.hasher2)],
            key: meta_type::<(K1, K2)>(),
            value: meta_type::<V>(),
        };
        entry(
            self.name,
            self.query,
            ty,
            default_bytes::<V>(self.query),
            self.docs,
        )
    }
}
