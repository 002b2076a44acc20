//! The JSON-RPC transport (WebSocket, or HTTP without subscriptions) under `phala_rpc_api`'s
//! client traits, and node errors turned into [`ClientError`]s.

use std::io;
use std::time::Duration;

use std::sync::Mutex;

use jsonrpsee::client_transport::ws::WsHandshakeError;
use jsonrpsee::core::client::{
    BatchResponse, ClientT, Error as RpcError, Subscription, SubscriptionClientT,
};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use phala_rpc_api::{ListOrValue, Properties};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ClientConfig;
use crate::error::{ClientError, from_error_object};

enum Transport {
    Ws(WsClient),
    Http(HttpClient),
}

/// A connection to one node.
pub(crate) struct Rpc {
    url: String,
    transport: Transport,
    request_timeout: Duration,
}

impl Rpc {
    /// Opens the connection (for WebSocket; HTTP connects on the first request).
    pub(crate) async fn open(url: &str, config: &ClientConfig) -> Result<Rpc, ClientError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let transport = match scheme.as_deref() {
            Some("ws" | "wss") => {
                let client = WsClientBuilder::default()
                    .request_timeout(config.request_timeout)
                    .connection_timeout(config.connect_timeout)
                    .max_response_size(config.max_response_size)
                    .build(url)
                    .await
                    .map_err(|e| ClientError::Connect {
                        url: url.to_string(),
                        reason: tls_hint(url, connect_reason(&e)),
                    })?;
                Transport::Ws(client)
            }
            Some("http" | "https") => {
                let client = HttpClientBuilder::default()
                    .request_timeout(config.request_timeout)
                    .max_response_size(config.max_response_size)
                    .build(url)
                    .map_err(|e| ClientError::Connect {
                        url: url.to_string(),
                        reason: tls_hint(url, connect_reason(&e)),
                    })?;
                Transport::Http(client)
            }
            _ => {
                return Err(ClientError::BadUrl {
                    url: url.to_string(),
                });
            }
        };
        Ok(Rpc {
            url: url.to_string(),
            transport,
            request_timeout: config.request_timeout,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn supports_subscriptions(&self) -> bool {
        matches!(self.transport, Transport::Ws(_))
    }

    /// A handle for one call through a `phala_rpc_api` client trait. It remembers the method
    /// the generated code called, so errors name it without the caller repeating its name.
    pub(crate) fn call(&self) -> Call<'_> {
        Call {
            rpc: self,
            method: Mutex::new(String::new()),
        }
    }

    pub(crate) fn map_error(&self, method: &str, e: RpcError) -> ClientError {
        match e {
            RpcError::Call(obj) => from_error_object(
                method,
                obj.code(),
                obj.message(),
                obj.data().map(|d| d.get()),
            ),
            RpcError::RequestTimeout => ClientError::Timeout {
                what: format!("the node's answer to {method}"),
                after: self.request_timeout,
            },
            RpcError::ParseError(e) => ClientError::BadResponse {
                method: method.to_string(),
                reason: e.to_string(),
            },
            RpcError::RestartNeeded(inner) => ClientError::Disconnected {
                url: self.url.clone(),
                reason: disconnect_reason(&inner),
            },
            RpcError::Transport(ref t) => {
                let reason = io_reason(t.as_ref()).unwrap_or_else(|| chain_text(t.as_ref()));
                if matches!(self.transport, Transport::Http(_)) {
                    ClientError::Connect {
                        url: self.url.clone(),
                        reason: tls_hint(&self.url, reason),
                    }
                } else {
                    ClientError::Disconnected {
                        url: self.url.clone(),
                        reason,
                    }
                }
            }
            other => ClientError::BadResponse {
                method: method.to_string(),
                reason: other.to_string(),
            },
        }
    }
}

fn disconnect_reason(e: &RpcError) -> String {
    match e {
        RpcError::Transport(t) => io_reason(t.as_ref()).unwrap_or_else(|| chain_text(t.as_ref())),
        RpcError::RestartNeeded(inner) => disconnect_reason(inner),
        other => other.to_string(),
    }
}

/// A TLS client talking to a plain server gets rustls's "corrupt message of type
/// InvalidContentType": say what that means here.
fn tls_hint(url: &str, reason: String) -> String {
    let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
    let tls = scheme == "wss" || scheme == "https";
    if tls && (reason.contains("InvalidContentType") || reason.contains("corrupt message")) {
        format!(
            "{reason}; the server does not speak TLS (a phala node serves plain ws:// and \
             http://: use those, or put a TLS proxy in front of it)"
        )
    } else {
        reason
    }
}

/// Why a connection could not be made, in a few words.
fn connect_reason(e: &RpcError) -> String {
    let RpcError::Transport(t) = e else {
        return e.to_string();
    };
    if let Some(h) = t.downcast_ref::<WsHandshakeError>() {
        return match h {
            WsHandshakeError::Io(io) => describe_io(io),
            WsHandshakeError::Timeout(d) => format!("no answer within {} s", d.as_secs()),
            WsHandshakeError::ResolutionFailed(_) => "cannot resolve the host name".into(),
            WsHandshakeError::NoAddressFound(host) => format!("no address found for {host}"),
            WsHandshakeError::Rejected { status_code } => {
                format!("the server refused the WebSocket handshake with HTTP status {status_code}")
            }
            WsHandshakeError::Redirected { location, .. } => {
                format!("the server redirects to {location}")
            }
            WsHandshakeError::Url(reason) => format!("the URL is invalid ({reason})"),
            WsHandshakeError::CertificateStore(io) => {
                format!("the system's TLS certificates cannot be loaded ({io})")
            }
            WsHandshakeError::Transport(t) => format!("the WebSocket handshake failed ({t})"),
        };
    }
    io_reason(t.as_ref()).unwrap_or_else(|| chain_text(t.as_ref()))
}

/// An error and its sources, joined with ": " (skipping sources already in the message).
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    while let Some(err) = current {
        let part = err.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = err.source();
    }
    text
}

/// The I/O error somewhere in an error's source chain, described.
pub(crate) fn io_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(describe_io(io));
        }
        current = err.source();
    }
    None
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the server".into(),
        io::ErrorKind::TimedOut => "connection timed out".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(at) => text.get(..at).unwrap_or(&text).to_lowercase(),
                None => text,
            }
        }
    }
}

/// The chain properties a node reports (`system_properties`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainProperties {
    /// SS58 address prefix (30 on Phala).
    pub ss58_format: Option<u16>,
    /// Decimals of the native token (12 for PHA).
    pub token_decimals: Option<u8>,
    /// Symbol of the native token ("PHA").
    pub token_symbol: Option<String>,
    /// The object as the node sent it.
    pub raw: Value,
}

impl ChainProperties {
    pub(crate) fn from_json(raw: Properties) -> ChainProperties {
        let raw = Value::Object(raw);
        // Decimals and symbol may be single values or arrays (multi-token chains).
        let first = |key: &str| -> Option<Value> {
            match raw.get(key)? {
                Value::Array(items) => items.first().cloned(),
                v => Some(v.clone()),
            }
        };
        ChainProperties {
            ss58_format: raw
                .get("ss58Format")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok()),
            token_decimals: first("tokenDecimals")
                .and_then(|v| v.as_u64())
                .and_then(|n| u8::try_from(n).ok()),
            token_symbol: first("tokenSymbol").and_then(|v| v.as_str().map(str::to_string)),
            raw,
        }
    }
}

/// One call through the generated client traits (see [`Rpc::call`]).
pub(crate) struct Call<'a> {
    rpc: &'a Rpc,
    method: Mutex<String>,
}

impl Call<'_> {
    fn note(&self, method: &str) {
        let mut m = match self.method.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        method.clone_into(&mut m);
    }

    /// The method this handle last called.
    pub(crate) fn method(&self) -> String {
        match self.method.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The call's failure as a [`ClientError`].
    pub(crate) fn fail(&self, e: RpcError) -> ClientError {
        let method = self.method();
        if matches!(e, RpcError::Custom(_)) && !self.rpc.supports_subscriptions() {
            return ClientError::SubscriptionsUnsupported { what: method };
        }
        self.rpc.map_error(&method, e)
    }

    /// An answer that parsed but does not make sense.
    pub(crate) fn bad(&self, reason: impl Into<String>) -> ClientError {
        ClientError::BadResponse {
            method: self.method(),
            reason: reason.into(),
        }
    }

    /// The single value of a `ListOrValue` answer to a single-value request.
    pub(crate) fn one<T>(&self, answer: ListOrValue<T>) -> Result<T, ClientError> {
        match answer {
            ListOrValue::Value(v) => Ok(v),
            ListOrValue::List(_) => Err(self.bad("a list answered a single-value request")),
        }
    }
}

impl ClientT for Call<'_> {
    async fn notification<Params>(&self, method: &str, params: Params) -> Result<(), RpcError>
    where
        Params: ToRpcParams + Send,
    {
        self.note(method);
        match &self.rpc.transport {
            Transport::Ws(c) => c.notification(method, params).await,
            Transport::Http(c) => c.notification(method, params).await,
        }
    }

    async fn request<R, Params>(&self, method: &str, params: Params) -> Result<R, RpcError>
    where
        R: DeserializeOwned,
        Params: ToRpcParams + Send,
    {
        self.note(method);
        match &self.rpc.transport {
            Transport::Ws(c) => c.request(method, params).await,
            Transport::Http(c) => c.request(method, params).await,
        }
    }

    async fn batch_request<'a, R>(
        &self,
        batch: BatchRequestBuilder<'a>,
    ) -> Result<BatchResponse<'a, R>, RpcError>
    where
        R: DeserializeOwned + std::fmt::Debug + 'a,
    {
        self.note("batch");
        match &self.rpc.transport {
            Transport::Ws(c) => c.batch_request(batch).await,
            Transport::Http(c) => c.batch_request(batch).await,
        }
    }
}

impl SubscriptionClientT for Call<'_> {
    async fn subscribe<'a, Notif, Params>(
        &self,
        subscribe_method: &'a str,
        params: Params,
        unsubscribe_method: &'a str,
    ) -> Result<Subscription<Notif>, RpcError>
    where
        Params: ToRpcParams + Send,
        Notif: DeserializeOwned,
    {
        self.note(subscribe_method);
        match &self.rpc.transport {
            Transport::Ws(c) => {
                c.subscribe(subscribe_method, params, unsubscribe_method)
                    .await
            }
            Transport::Http(_) => Err(RpcError::Custom(HTTP_SUBSCRIPTION.into())),
        }
    }

    async fn subscribe_to_method<Notif>(
        &self,
        method: &str,
    ) -> Result<Subscription<Notif>, RpcError>
    where
        Notif: DeserializeOwned,
    {
        self.note(method);
        match &self.rpc.transport {
            Transport::Ws(c) => c.subscribe_to_method(method).await,
            Transport::Http(_) => Err(RpcError::Custom(HTTP_SUBSCRIPTION.into())),
        }
    }
}

const HTTP_SUBSCRIPTION: &str = "subscriptions need a WebSocket connection";

#[cfg(test)]
mod tests {
    use super::*;

    /// `wss://` to a plain node said only "received corrupt message of type
    /// InvalidContentType".
    #[test]
    fn tls_to_a_plain_server_says_so() {
        let raw = "received corrupt message of type InvalidContentType".to_string();
        assert!(tls_hint("wss://127.0.0.1:9944", raw.clone()).contains("does not speak TLS"));
        assert!(tls_hint("https://node.example.org", raw.clone()).contains("ws:// and http://"));
        assert_eq!(tls_hint("ws://127.0.0.1:9944", raw.clone()), raw);
        let refused = "connection refused".to_string();
        assert_eq!(tls_hint("wss://x:1", refused.clone()), refused);
    }

    #[test]
    fn properties_parse() {
        let serde_json::Value::Object(raw) =
            serde_json::json!({"ss58Format": 30, "tokenDecimals": [12], "tokenSymbol": "PHA"})
        else {
            unreachable!()
        };
        let p = ChainProperties::from_json(raw);
        assert_eq!(p.ss58_format, Some(30));
        assert_eq!(p.token_decimals, Some(12));
        assert_eq!(p.token_symbol.as_deref(), Some("PHA"));
    }

    #[test]
    fn io_errors_read_as_a_few_words() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(describe_io(&e), "connection refused");
        let wrapped = RpcError::Transport(Box::new(WsHandshakeError::Io(e)));
        assert_eq!(connect_reason(&wrapped), "connection refused");
    }
}
