//! [`LocalEnvironment`]: an [`Environment`] with no network and an in-memory cache, for
//! tests, benchmarks and tools. Workers implement their own (real HTTP with an allowlist,
//! secrets from the cluster key).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::pink::{Environment, HttpRequest, HttpRequestError, HttpResponse, QuotaExceeded};
use crate::world::AccountId;

/// Cache bytes each contract may hold in a [`LocalEnvironment`].
pub const LOCAL_CACHE_QUOTA: usize = 1024 * 1024;

#[derive(Default)]
pub struct LocalEnvironment {
    /// Mixed into contract secrets, standing in for a cluster key.
    pub secret_seed: [u8; 32],
    pub worker_pubkey: [u8; 32],
    cache: Mutex<BTreeMap<(AccountId, Vec<u8>), Vec<u8>>>,
    logs: Mutex<Vec<(AccountId, u8, String)>>,
    random_counter: AtomicU64,
}

impl LocalEnvironment {
    pub fn new(secret_seed: [u8; 32]) -> Self {
        Self {
            secret_seed,
            ..Self::default()
        }
    }

    /// The log lines contracts wrote so far.
    pub fn logs(&self) -> Vec<(AccountId, u8, String)> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn used(cache: &BTreeMap<(AccountId, Vec<u8>), Vec<u8>>, contract: &AccountId) -> usize {
        cache
            .iter()
            .filter(|((c, _), _)| c == contract)
            .map(|((_, k), v)| k.len().saturating_add(v.len()))
            .sum()
    }
}

impl Environment for LocalEnvironment {
    fn http_request(
        &self,
        _contract: &AccountId,
        _request: HttpRequest,
        _timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError> {
        Err(HttpRequestError::NotAllowed)
    }

    fn cache_get(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        let cache = self.cache.lock().ok()?;
        cache.get(&(*contract, key.to_vec())).cloned()
    }

    fn cache_set(
        &self,
        contract: &AccountId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), QuotaExceeded> {
        let mut cache = self.cache.lock().map_err(|_| QuotaExceeded)?;
        let entry = (*contract, key.to_vec());
        let old = cache
            .get(&entry)
            .map_or(0, |v| v.len().saturating_add(key.len()));
        let used = Self::used(&cache, contract).saturating_sub(old);
        if used.saturating_add(key.len()).saturating_add(value.len()) > LOCAL_CACHE_QUOTA {
            return Err(QuotaExceeded);
        }
        cache.insert(entry, value.to_vec());
        Ok(())
    }

    fn cache_set_expiration(&self, contract: &AccountId, key: &[u8], expire_secs: u64) {
        // Without a clock-driven sweeper, an expiry of zero is the only one that matters here.
        if expire_secs == 0 {
            self.cache_remove(contract, key);
        }
    }

    fn cache_remove(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        let mut cache = self.cache.lock().ok()?;
        cache.remove(&(*contract, key.to_vec()))
    }

    fn log(&self, contract: &AccountId, level: u8, message: &str) {
        if let Ok(mut logs) = self.logs.lock() {
            logs.push((*contract, level, message.to_string()));
        }
    }

    fn worker_pubkey(&self) -> [u8; 32] {
        self.worker_pubkey
    }

    fn contract_secret(&self, contract: &AccountId, salt: &[u8]) -> [u8; 32] {
        let mut preimage = self.secret_seed.to_vec();
        preimage.extend_from_slice(contract);
        preimage.extend_from_slice(salt);
        sp_crypto_hashing::blake2_256(&preimage)
    }

    fn untrusted_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let n = self.random_counter.fetch_add(1, Ordering::Relaxed);
            let mut preimage = self.secret_seed.to_vec();
            preimage.extend_from_slice(b"random");
            preimage.extend_from_slice(&n.to_le_bytes());
            let block = sp_crypto_hashing::blake2_256(&preimage);
            for (out, byte) in chunk.iter_mut().zip(block) {
                *out = byte;
            }
        }
    }
}
