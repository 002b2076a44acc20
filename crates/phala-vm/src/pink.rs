//! Phala's pink chain extension (docs/contracts-abi.md, *Pink chain extension*), reached through
//! `seal0.call_chain_extension(id, input, output)`: arguments and results are SCALE, `id` is the
//! function number (extension 0). What depends on the worker (HTTP, the local cache, keys, time,
//! randomness, logs) goes through [`Environment`]; what must be identical on every worker of a
//! cluster is decided here, by the execution [`Mode`]:
//! - in a transaction, HTTP, randomness, sr25519 signing, cache reads and the worker's own
//!   key are unavailable (they would differ between workers), as in Phala;
//! - cache writes of a transaction are applied by the worker after the command commits.

use std::time::Duration;

use parity_scale_codec::{Decode, Encode};
use wasmi::{Caller, Error};

use crate::crypto::{self, SigType};
use crate::exec::HostState;
use crate::host::{Builder, read_only_guard, world};
use crate::mem::{charge, read, trap, write_out};
use crate::world::{AccountId, CacheOp};
use crate::{Mode, gas};

/// The one topic of a pink event: SCALE("phala.pink.event") padded to 32 bytes.
pub const PINK_EVENT_TOPIC: [u8; 32] = *b"\x40phala.pink.event\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
/// Most requests in one `batch_http_request`.
pub const MAX_BATCH_REQUESTS: usize = 5;
/// Longest any HTTP request may take, whatever the contract asks.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The version `runtime_version` reports.
pub const RUNTIME_VERSION: (u32, u32) = (1, 0);

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct HttpResponse {
    pub status_code: u16,
    pub reason_phrase: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Pink's HTTP errors, in its SCALE order; a status code is the index plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum HttpRequestError {
    #[error("invalid URL")]
    InvalidUrl,
    #[error("invalid method")]
    InvalidMethod,
    #[error("invalid header name")]
    InvalidHeaderName,
    #[error("invalid header value")]
    InvalidHeaderValue,
    #[error("failed to create the client")]
    FailedToCreateClient,
    #[error("timed out")]
    Timeout,
    #[error("the host is not allowed")]
    NotAllowed,
    #[error("too many requests")]
    TooManyRequests,
    #[error("network error")]
    NetworkError,
    #[error("response too large")]
    ResponseTooLarge,
    #[error("too many headers")]
    TooManyHeaders,
}

impl HttpRequestError {
    fn status(self) -> u32 {
        (self as u32).saturating_add(1)
    }
}

/// The cache quota of a contract is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the contract's cache quota is used up")]
pub struct QuotaExceeded;

/// What the worker provides to contracts. Everything here may differ between workers, so
/// the VM only uses it where the [`Mode`] allows.
pub trait Environment: Send + Sync {
    /// An HTTP request (queries only), finished or failed within `timeout`.
    fn http_request(
        &self,
        contract: &AccountId,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError>;
    fn cache_get(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>>;
    fn cache_set(
        &self,
        contract: &AccountId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), QuotaExceeded>;
    fn cache_set_expiration(&self, contract: &AccountId, key: &[u8], expire_secs: u64);
    fn cache_remove(&self, contract: &AccountId, key: &[u8]) -> Option<Vec<u8>>;
    /// A `pink::info!`-style log line (levels 1 error … 5 trace).
    fn log(&self, contract: &AccountId, level: u8, message: &str);
    /// The worker's ECDH public key.
    fn worker_pubkey(&self) -> [u8; 32];
    /// A 32-byte secret for `(contract, salt)`, the same on every worker of the cluster
    /// (derived from the cluster key, docs/protocol.md, *Key hierarchy*).
    fn contract_secret(&self, contract: &AccountId, salt: &[u8]) -> [u8; 32];
    /// Wall-clock time, as the worker's (untrusted) clock says.
    fn untrusted_millis(&self) -> u64;
    fn fill_random(&self, buf: &mut [u8]);
}

/// Applies a cache operation through the environment.
pub fn apply_cache_op(env: &dyn Environment, contract: &AccountId, op: &CacheOp) {
    match op {
        CacheOp::Set { key, value } => {
            // A command's write over the quota is dropped, as Phala drops it.
            let _ = env.cache_set(contract, key, value);
        }
        CacheOp::SetExpiration { key, expire_secs } => {
            env.cache_set_expiration(contract, key, *expire_secs)
        }
        CacheOp::Remove { key } => {
            env.cache_remove(contract, key);
        }
    }
}

pub(crate) fn is_pink_event(topics: &[[u8; 32]]) -> bool {
    topics == [PINK_EVENT_TOPIC]
}

/// A pink event is a request to the runtime, never a public event. Only cache operations
/// mean anything to this runtime; hooks, sidevm and the JS runtime do not exist here.
pub(crate) fn on_pink_event(
    caller: &mut Caller<'_, HostState>,
    contract: AccountId,
    data: &[u8],
) -> Result<(), Error> {
    let mut input = data;
    // PinkEvent::CacheOp has index 5.
    if input.first() != Some(&5) {
        return Ok(());
    }
    input = input.get(1..).unwrap_or_default();
    let Ok(op) = CacheOp::decode(&mut input) else {
        return Err(trap("a pink cache event does not decode"));
    };
    read_only_guard(caller)?;
    let world = world(caller)?;
    match world.ctx.mode {
        Mode::Transaction => world
            .overlay
            .cache_op(contract, op)
            .map_err(|e| trap(e.to_string()))?,
        Mode::Query => apply_cache_op(world.env.as_ref(), &contract, &op),
    }
    Ok(())
}

/// Records a transaction's cache operation, applied once the command commits.
fn record(
    caller: &mut Caller<'_, HostState>,
    contract: AccountId,
    op: CacheOp,
) -> Result<(), Error> {
    world(caller)?
        .overlay
        .cache_op(contract, op)
        .map_err(|e| trap(e.to_string()))
}

/// The result of one extension function: a status (0 = ok) and the output.
struct Reply(u32, Vec<u8>);

fn ok(value: impl Encode) -> Result<Reply, Error> {
    Ok(Reply(0, value.encode()))
}

fn args<T: Decode>(input: &[u8]) -> Result<T, Error> {
    T::decode(&mut &input[..]).map_err(|_| trap("chain extension arguments do not decode"))
}

/// Pink's extension function ids (the `func_id` of `seal0.call_chain_extension`, as
/// pink-extension numbers them).
mod id {
    pub const HTTP_REQUEST: u32 = 1;
    pub const SIGN: u32 = 2;
    pub const VERIFY: u32 = 3;
    pub const DERIVE_SR25519_KEY: u32 = 4;
    pub const GET_PUBLIC_KEY: u32 = 5;
    pub const CACHE_SET: u32 = 6;
    pub const CACHE_SET_EXPIRATION: u32 = 7;
    pub const CACHE_GET: u32 = 8;
    pub const CACHE_REMOVE: u32 = 9;
    pub const LOG: u32 = 10;
    pub const GETRANDOM: u32 = 11;
    pub const IS_IN_TRANSACTION: u32 = 12;
    pub const ECDSA_SIGN_PREHASHED: u32 = 13;
    pub const ECDSA_VERIFY_PREHASHED: u32 = 14;
    pub const SYSTEM_CONTRACT_ID: u32 = 15;
    pub const BALANCE_OF: u32 = 16;
    pub const WORKER_PUBKEY: u32 = 17;
    pub const UNTRUSTED_MILLIS: u32 = 18;
    pub const CODE_EXISTS: u32 = 19;
    pub const IMPORT_LATEST_SYSTEM_CODE: u32 = 20;
    pub const RUNTIME_VERSION: u32 = 21;
    pub const BATCH_HTTP_REQUEST: u32 = 22;
    pub const CURRENT_EVENT_CHAIN_HEAD: u32 = 23;
    pub const JS_EVAL: u32 = 24;
    pub const WORKER_SGX_QUOTE: u32 = 25;
}

fn dispatch(caller: &mut Caller<'_, HostState>, func: u32, input: &[u8]) -> Result<Reply, Error> {
    let contract = caller.data().frame.address;
    let (mode, env) = {
        let world = world(caller)?;
        (world.ctx.mode, world.env.clone())
    };
    let in_query = mode == Mode::Query;
    match func {
        id::HTTP_REQUEST => {
            charge(caller, gas::HTTP_REQUEST)?;
            let request: HttpRequest = args(input)?;
            if !in_query {
                return ok(HttpResponse {
                    status_code: 523,
                    reason_phrase: "HTTP is not available in transactions".into(),
                    headers: Vec::new(),
                    body: Vec::new(),
                });
            }
            let timeout = http_timeout(caller, MAX_HTTP_TIMEOUT)?;
            let url = request.url.clone();
            match env.http_request(&contract, request, timeout) {
                Ok(response) => ok(response),
                Err(e) => Err(trap(format!("http_request to {url}: {e}"))),
            }
        }
        id::SIGN => {
            charge(caller, gas::SIGNATURE)?;
            let (sig_type, key, message): (SigType, Vec<u8>, Vec<u8>) = args(input)?;
            if sig_type == SigType::Sr25519 && !in_query {
                // sr25519 signatures are randomised: workers would disagree.
                return ok(Vec::<u8>::new());
            }
            match crypto::sign(sig_type, &key, &message) {
                Some(signature) => ok(signature),
                None => Err(trap(format!("sign: not a valid {sig_type:?} key"))),
            }
        }
        id::VERIFY => {
            charge(caller, gas::SIGNATURE)?;
            let (sig_type, public, message, signature): (SigType, Vec<u8>, Vec<u8>, Vec<u8>) =
                args(input)?;
            ok(crypto::verify(sig_type, &public, &message, &signature))
        }
        id::DERIVE_SR25519_KEY => {
            charge(caller, gas::KEY_DERIVATION)?;
            let salt: Vec<u8> = args(input)?;
            let seed = env.contract_secret(&contract, &salt);
            match crypto::sr25519_secret_from_seed(&seed) {
                Some(secret) => ok(secret.to_vec()),
                None => Err(trap("derive_sr25519_key failed")),
            }
        }
        id::GET_PUBLIC_KEY => {
            charge(caller, gas::KEY_DERIVATION)?;
            let (sig_type, key): (SigType, Vec<u8>) = args(input)?;
            match crypto::public_key(sig_type, &key) {
                Some(public) => ok(public),
                None => Err(trap(format!(
                    "get_public_key: not a valid {sig_type:?} key"
                ))),
            }
        }
        id::CACHE_SET => {
            charge(caller, gas::CACHE_OP)?;
            let (key, value): (Vec<u8>, Vec<u8>) = args(input)?;
            read_only_guard(caller)?;
            charge(
                caller,
                gas::per_byte(key.len().saturating_add(value.len()), gas::CACHE_PER_BYTE),
            )?;
            if !in_query {
                record(caller, contract, CacheOp::Set { key, value })?;
                return ok(());
            }
            match env.cache_set(&contract, &key, &value) {
                Ok(()) => ok(()),
                // StorageQuotaExceeded's error code.
                Err(QuotaExceeded) => Ok(Reply(1, Vec::new())),
            }
        }
        id::CACHE_SET_EXPIRATION => {
            charge(caller, gas::CACHE_OP)?;
            let (key, expire_secs): (Vec<u8>, u64) = args(input)?;
            read_only_guard(caller)?;
            if in_query {
                env.cache_set_expiration(&contract, &key, expire_secs);
            } else {
                record(
                    caller,
                    contract,
                    CacheOp::SetExpiration { key, expire_secs },
                )?;
            }
            ok(())
        }
        id::CACHE_GET => {
            charge(caller, gas::CACHE_OP)?;
            let key: Vec<u8> = args(input)?;
            ok(if in_query {
                env.cache_get(&contract, &key)
            } else {
                None
            })
        }
        id::CACHE_REMOVE => {
            charge(caller, gas::CACHE_OP)?;
            let key: Vec<u8> = args(input)?;
            read_only_guard(caller)?;
            if in_query {
                ok(env.cache_remove(&contract, &key))
            } else {
                record(caller, contract, CacheOp::Remove { key })?;
                ok(Option::<Vec<u8>>::None)
            }
        }
        id::LOG => {
            charge(caller, gas::LOG)?;
            let (level, message): (u8, String) = args(input)?;
            env.log(&contract, level, &message);
            ok(())
        }
        id::GETRANDOM => {
            let length: u8 = args(input)?;
            charge(caller, gas::HOST_CALL)?;
            if !in_query {
                return ok(Vec::<u8>::new());
            }
            let mut buf = vec![0u8; usize::from(length)];
            env.fill_random(&mut buf);
            ok(buf)
        }
        id::IS_IN_TRANSACTION => ok(!in_query),
        id::ECDSA_SIGN_PREHASHED => {
            charge(caller, gas::SIGNATURE)?;
            let (key, hash): (Vec<u8>, [u8; 32]) = args(input)?;
            match crypto::ecdsa_sign_prehashed(&key, &hash) {
                Some(signature) => ok(signature),
                None => Err(trap("ecdsa_sign_prehashed: not a valid secp256k1 key")),
            }
        }
        id::ECDSA_VERIFY_PREHASHED => {
            charge(caller, gas::SIGNATURE)?;
            let (signature, hash, public): ([u8; 65], [u8; 32], [u8; 33]) = args(input)?;
            ok(crypto::ecdsa_verify_prehashed(&signature, &hash, &public))
        }
        id::SYSTEM_CONTRACT_ID => ok(world(caller)?.ctx.system_contract),
        // No value moves inside a cluster: every balance reads as 0 (see `seal0.balance`).
        id::BALANCE_OF => {
            let _account: AccountId = args(input)?;
            ok((0u128, 0u128))
        }
        // A worker's own key differs between workers; commands see zeros.
        id::WORKER_PUBKEY => ok(if in_query {
            env.worker_pubkey()
        } else {
            [0u8; 32]
        }),
        id::UNTRUSTED_MILLIS => ok(if in_query {
            env.untrusted_millis()
        } else {
            world(caller)?.ctx.timestamp_ms
        }),
        id::CODE_EXISTS => {
            let (code_hash, sidevm): ([u8; 32], bool) = args(input)?;
            charge(caller, gas::STORAGE_READ)?;
            ok(!sidevm && world(caller)?.overlay.code(&code_hash).is_some())
        }
        id::IMPORT_LATEST_SYSTEM_CODE => ok(Option::<[u8; 32]>::None),
        id::RUNTIME_VERSION => ok(RUNTIME_VERSION),
        id::BATCH_HTTP_REQUEST => {
            let (requests, timeout_ms): (Vec<HttpRequest>, u64) = args(input)?;
            charge(
                caller,
                gas::HTTP_REQUEST.saturating_mul(requests.len().max(1) as u64),
            )?;
            if !in_query {
                return Ok(Reply(HttpRequestError::NotAllowed.status(), Vec::new()));
            }
            if requests.len() > MAX_BATCH_REQUESTS {
                return Ok(Reply(
                    HttpRequestError::TooManyRequests.status(),
                    Vec::new(),
                ));
            }
            let timeout = http_timeout(caller, Duration::from_millis(timeout_ms))?;
            let started = std::time::Instant::now();
            let responses: Vec<Result<HttpResponse, HttpRequestError>> = requests
                .into_iter()
                .map(|request| {
                    let left = timeout.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(HttpRequestError::Timeout);
                    }
                    env.http_request(&contract, request, left)
                })
                .collect();
            ok(responses)
        }
        id::CURRENT_EVENT_CHAIN_HEAD => ok((0u64, [0u8; 32])),
        id::JS_EVAL => Err(trap("js_eval is not supported by this runtime")),
        id::WORKER_SGX_QUOTE => ok(Option::<(u8, Vec<u8>)>::None),
        other => Err(trap(format!("unknown pink extension function {other}"))),
    }
}

/// The time an HTTP request may take: what was asked, at most [`MAX_HTTP_TIMEOUT`] and never
/// past the query's deadline.
fn http_timeout(caller: &mut Caller<'_, HostState>, asked: Duration) -> Result<Duration, Error> {
    let mut timeout = asked.min(MAX_HTTP_TIMEOUT);
    if let Some(deadline) = world(caller)?.ctx.deadline {
        timeout = timeout.min(deadline.saturating_duration_since(std::time::Instant::now()));
    }
    Ok(timeout)
}

pub(crate) fn register(t: &mut Builder) {
    t.add(
        "seal0",
        "call_chain_extension",
        |mut c: Caller<'_, HostState>,
         id: u32,
         input: u32,
         input_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            // Pink before 2022 numbered its functions 0xff000001…; the same functions.
            if id >> 16 != 0 && id >> 16 != 0xff00 {
                return Err(trap(format!("unknown chain extension {}", id >> 16)));
            }
            let input = read(&mut c, input, input_len)?;
            let Reply(status, output) = dispatch(&mut c, id & 0xFFFF, &input)?;
            write_out(&mut c, out, out_len, &output, false)?;
            Ok(status)
        },
    );
}
