//! What contracts get from this worker through pink: a local cache with a per-contract
//! quota and expiry, HTTP to the hosts the operator allows, keys derived from the cluster
//! key, the clock and randomness. Contract log lines stay inside the TEE: they go back to
//! the caller of a query inside its encrypted reply, never to the host's log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use phala_crypto::keys::Seed;
use phala_primitives::H256;
use phala_vm::{
    AccountId, Environment, HttpRequest, HttpRequestError, HttpResponse, QuotaExceeded,
};

/// Cache bytes (keys and values) one contract may hold in this worker.
pub const CACHE_QUOTA_PER_CONTRACT: usize = 1024 * 1024;
/// Largest HTTP response body a contract may receive.
pub const MAX_HTTP_RESPONSE: usize = 2 * 1024 * 1024;
/// Most response headers a contract may receive.
pub const MAX_HTTP_HEADERS: usize = 64;
/// Most log lines kept from one execution.
const MAX_LOG_LINES: usize = 256;

#[derive(Default)]
struct Entries {
    used: usize,
    map: HashMap<Vec<u8>, (Vec<u8>, Option<Instant>)>,
}

/// The worker-local pink cache. Not replicated and not persisted: a restart empties it,
/// as in Phala, and contracts must treat it as a cache.
#[derive(Debug, Default)]
pub struct ContractCache {
    contracts: Mutex<HashMap<AccountId, Entries>>,
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entries, {} bytes", self.map.len(), self.used)
    }
}

fn entry_size(key: &[u8], value: &[u8]) -> usize {
    key.len().saturating_add(value.len())
}

impl ContractCache {
    fn with<R>(&self, contract: &AccountId, f: impl FnOnce(&mut Entries) -> R) -> Option<R> {
        let mut contracts = self.contracts.lock().ok()?;
        Some(f(contracts.entry(*contract).or_default()))
    }

    fn remove_entry(entries: &mut Entries, key: &[u8]) -> Option<Vec<u8>> {
        let (value, _) = entries.map.remove(key)?;
        entries.used = entries.used.saturating_sub(entry_size(key, &value));
        Some(value)
    }

    pub fn get(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.with(contract, |entries| {
            let expired = entries
                .map
                .get(key)
                .is_some_and(|(_, expiry)| expiry.is_some_and(|t| Instant::now() >= t));
            if expired {
                Self::remove_entry(entries, key);
                return None;
            }
            entries.map.get(key).map(|(v, _)| v.clone())
        })
        .flatten()
    }

    pub fn set(&self, contract: &AccountId, key: &[u8], value: &[u8]) -> Result<(), QuotaExceeded> {
        self.with(contract, |entries| {
            let old = entries.map.get(key).map_or(0, |(v, _)| entry_size(key, v));
            let used = entries
                .used
                .saturating_sub(old)
                .saturating_add(entry_size(key, value));
            if used > CACHE_QUOTA_PER_CONTRACT {
                return Err(QuotaExceeded);
            }
            entries.used = used;
            entries.map.insert(key.to_vec(), (value.to_vec(), None));
            Ok(())
        })
        .unwrap_or(Err(QuotaExceeded))
    }

    pub fn set_expiration(&self, contract: &AccountId, key: &[u8], expire_secs: u64) {
        self.with(contract, |entries| {
            if let Some((_, expiry)) = entries.map.get_mut(key) {
                *expiry = Instant::now().checked_add(Duration::from_secs(expire_secs));
            }
        });
    }

    pub fn remove(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.with(contract, |entries| Self::remove_entry(entries, key))
            .flatten()
    }
}

/// The host's side of a contract's HTTP request: the core decides whether a request may be
/// made (its allowlist, the URL's scheme, the time left); the host, which has the network,
/// makes it. The host must not follow redirects (they could leave the allowlist), must
/// refuse more than [`MAX_HTTP_HEADERS`] response headers and a body over
/// [`MAX_HTTP_RESPONSE`], and must give up after `timeout`.
pub trait HttpTransport: Send + Sync {
    fn send(
        &self,
        url: &url::Url,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError>;
}

/// A host without a network: every allowed request fails as a network error.
#[derive(Debug, Default)]
pub struct NoNetwork;

impl HttpTransport for NoNetwork {
    fn send(
        &self,
        _url: &url::Url,
        _request: HttpRequest,
        _timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError> {
        Err(HttpRequestError::NetworkError)
    }
}

/// Which hosts contracts may reach over HTTP(S), and the host's transport that reaches them.
pub struct HttpPolicy {
    /// Host names: exact (`api.example.com`), a domain and its subdomains
    /// (`*.example.com`), or `*` for any. Empty: no HTTP at all.
    pub allow: Vec<String>,
    transport: Arc<dyn HttpTransport>,
}

impl std::fmt::Debug for HttpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPolicy")
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

impl Default for HttpPolicy {
    /// No host allowed, and no network.
    fn default() -> Self {
        Self::new(Vec::new(), Arc::new(NoNetwork))
    }
}

impl HttpPolicy {
    pub fn new(allow: Vec<String>, transport: Arc<dyn HttpTransport>) -> Self {
        Self { allow, transport }
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            if pattern == "*" {
                return true;
            }
            match pattern.strip_prefix("*.") {
                Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
                None => host == pattern,
            }
        })
    }

    /// One request, refused unless its host is allowed, then made by the host's transport.
    pub fn request(
        &self,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError> {
        let url = url::Url::parse(&request.url).map_err(|_| HttpRequestError::InvalidUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpRequestError::InvalidUrl);
        }
        let host = url.host_str().ok_or(HttpRequestError::InvalidUrl)?;
        if !self.allows(host) {
            return Err(HttpRequestError::NotAllowed);
        }
        if timeout.is_zero() {
            return Err(HttpRequestError::Timeout);
        }
        self.transport.send(&url, request, timeout)
    }
}

/// The host's wall clock, which the TEE cannot check: contracts see it as
/// `untrusted_millis`.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The [`Environment`] of one execution in this worker.
pub struct WorkerEnvironment {
    pub cluster_seed: Seed,
    pub worker_pubkey: [u8; 32],
    pub cache: Arc<ContractCache>,
    pub http: Arc<HttpPolicy>,
    pub clock: Arc<dyn Clock>,
    pub logs: Mutex<Vec<String>>,
}

impl WorkerEnvironment {
    /// The log lines contracts wrote, for the caller's eyes only.
    pub fn take_logs(&self) -> Vec<String> {
        self.logs
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

impl Environment for WorkerEnvironment {
    fn http_request(
        &self,
        _contract: &AccountId,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError> {
        self.http.request(request, timeout)
    }

    fn cache_get(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.cache.get(contract, key)
    }

    fn cache_set(
        &self,
        contract: &AccountId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), QuotaExceeded> {
        self.cache.set(contract, key, value)
    }

    fn cache_set_expiration(&self, contract: &AccountId, key: &[u8], expire_secs: u64) {
        self.cache.set_expiration(contract, key, expire_secs);
    }

    fn cache_remove(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
        self.cache.remove(contract, key)
    }

    fn log(&self, _contract: &AccountId, level: u8, message: &str) {
        let level = match level {
            1 => "ERROR",
            2 => "WARN",
            3 => "INFO",
            4 => "DEBUG",
            _ => "TRACE",
        };
        if let Ok(mut logs) = self.logs.lock()
            && logs.len() < MAX_LOG_LINES
        {
            logs.push(format!("[{level}] {message}"));
        }
    }

    fn worker_pubkey(&self) -> [u8; 32] {
        self.worker_pubkey
    }

    fn contract_secret(&self, contract: &AccountId, salt: &[u8]) -> [u8; 32] {
        *self
            .cluster_seed
            .contract_secret(&H256(*contract), salt)
            .expose()
    }

    fn untrusted_millis(&self) -> u64 {
        self.clock.now_millis()
    }

    fn fill_random(&self, buf: &mut [u8]) {
        rand_core::Rng::fill_bytes(&mut commonware_utils::sys_rng(), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_matches_hosts_and_subdomains_only() {
        let policy = HttpPolicy::new(
            vec!["api.example.com".into(), "*.example.org".into()],
            Arc::new(NoNetwork),
        );
        assert!(policy.allows("api.example.com"));
        assert!(policy.allows("API.example.com."));
        assert!(!policy.allows("example.com"));
        assert!(!policy.allows("evilapi.example.com"));
        assert!(policy.allows("example.org"));
        assert!(policy.allows("a.b.example.org"));
        assert!(!policy.allows("badexample.org"));
        assert!(!HttpPolicy::default().allows("example.com"));
        assert!(HttpPolicy::new(vec!["*".into()], Arc::new(NoNetwork)).allows("anything"));
    }

    #[test]
    fn a_request_outside_the_allowlist_is_refused_without_a_connection() {
        let policy = HttpPolicy::new(vec!["127.0.0.1".into()], Arc::new(NoNetwork));
        let request = |url: &str| HttpRequest {
            url: url.into(),
            method: "GET".into(),
            headers: vec![],
            body: vec![],
        };
        assert_eq!(
            policy.request(request("http://example.com/"), Duration::from_secs(5)),
            Err(HttpRequestError::NotAllowed)
        );
        assert_eq!(
            policy.request(request("ftp://127.0.0.1/"), Duration::from_secs(5)),
            Err(HttpRequestError::InvalidUrl)
        );
        assert_eq!(
            policy.request(request("not a url"), Duration::from_secs(5)),
            Err(HttpRequestError::InvalidUrl)
        );
    }

    #[test]
    fn the_cache_keeps_its_quota_and_expiry() {
        let cache = ContractCache::default();
        let c = [1; 32];
        cache.set(&c, b"k", b"v").unwrap();
        assert_eq!(cache.get(&c, b"k"), Some(b"v".to_vec()));
        assert_eq!(cache.get(&[2; 32], b"k"), None);
        let big = vec![0u8; CACHE_QUOTA_PER_CONTRACT];
        assert_eq!(cache.set(&c, b"big", &big), Err(QuotaExceeded));
        cache.set_expiration(&c, b"k", 0);
        assert_eq!(cache.get(&c, b"k"), None);
        cache
            .set(&c, b"big", &big[..CACHE_QUOTA_PER_CONTRACT - 3])
            .unwrap();
        assert_eq!(
            cache.remove(&c, b"big").map(|v| v.len()),
            Some(CACHE_QUOTA_PER_CONTRACT - 3)
        );
    }
}
