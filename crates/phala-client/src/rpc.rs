//! The JSON-RPC transport (WebSocket, or HTTP without subscriptions) and the JSON shapes of
//! Substrate's legacy RPC, converted into the chain's own types.

use std::io;
use std::time::Duration;

use jsonrpsee::client_transport::ws::WsHandshakeError;
use jsonrpsee::core::client::{ClientT, Error as RpcError, Subscription, SubscriptionClientT};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::Decode;
use phala_primitives::crypto::decode_hex;
use phala_primitives::{Block, BlockNumber, DigestItem, H256, Header, OpaqueExtrinsic};
use serde::Deserialize;
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
                        reason: connect_reason(&e),
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
                        reason: connect_reason(&e),
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

    /// Calls `method` with positional `params` and decodes the JSON result.
    pub(crate) async fn request<R: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<R, ClientError> {
        let params = array_params(params);
        let result: Result<Value, RpcError> = match &self.transport {
            Transport::Ws(c) => c.request(method, params).await,
            Transport::Http(c) => c.request(method, params).await,
        };
        let value = result.map_err(|e| self.map_error(method, e))?;
        serde_json::from_value(value).map_err(|e| ClientError::BadResponse {
            method: method.to_string(),
            reason: e.to_string(),
        })
    }

    /// Opens a subscription; only over WebSocket.
    pub(crate) async fn subscribe<N: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<Value>,
        unsubscribe: &str,
    ) -> Result<Subscription<N>, ClientError> {
        match &self.transport {
            Transport::Ws(c) => c
                .subscribe(method, array_params(params), unsubscribe)
                .await
                .map_err(|e| self.map_error(method, e)),
            Transport::Http(_) => Err(ClientError::SubscriptionsUnsupported {
                what: method.to_string(),
            }),
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
                        reason,
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

fn array_params(values: Vec<Value>) -> ArrayParams {
    let mut params = ArrayParams::new();
    for v in values {
        // Serialising a `serde_json::Value` cannot fail.
        let _ = params.insert(v);
    }
    params
}

fn disconnect_reason(e: &RpcError) -> String {
    match e {
        RpcError::Transport(t) => io_reason(t.as_ref()).unwrap_or_else(|| chain_text(t.as_ref())),
        RpcError::RestartNeeded(inner) => disconnect_reason(inner),
        other => other.to_string(),
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
fn io_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
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

/// A block number as Substrate serialises it: a hex string, or (tolerated) a JSON number.
fn block_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BlockNumber, D::Error> {
    let v = Value::deserialize(d)?;
    let n = match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok()),
        _ => None,
    };
    n.and_then(|n| BlockNumber::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a block number")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeaderJson {
    parent_hash: H256,
    #[serde(deserialize_with = "block_number")]
    number: BlockNumber,
    state_root: H256,
    extrinsics_root: H256,
    digest: DigestJson,
}

#[derive(Deserialize)]
struct DigestJson {
    logs: Vec<String>,
}

impl HeaderJson {
    pub(crate) fn into_header(self) -> Result<Header, String> {
        let digest = self
            .digest
            .logs
            .iter()
            .map(|log| {
                let bytes = decode_hex(log).map_err(|e| format!("digest log {log}: {e}"))?;
                DigestItem::decode(&mut bytes.as_slice())
                    .map_err(|e| format!("digest log {log} does not decode: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Header {
            parent_hash: self.parent_hash,
            number: self.number,
            state_root: self.state_root,
            extrinsics_root: self.extrinsics_root,
            digest,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct SignedBlockJson {
    block: BlockJson,
}

#[derive(Deserialize)]
struct BlockJson {
    header: HeaderJson,
    extrinsics: Vec<String>,
}

impl SignedBlockJson {
    pub(crate) fn into_block(self) -> Result<Block, String> {
        let header = self.block.header.into_header()?;
        let extrinsics = self
            .block
            .extrinsics
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let bytes = decode_hex(x).map_err(|e| format!("extrinsic {i}: {e}"))?;
                OpaqueExtrinsic::from_bytes(bytes).map_err(|e| format!("extrinsic {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Block { header, extrinsics })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuntimeVersionJson {
    spec_name: String,
    impl_name: String,
    authoring_version: u32,
    spec_version: u32,
    impl_version: u32,
    #[serde(default)]
    apis: Vec<(String, u32)>,
    transaction_version: u32,
    #[serde(default)]
    system_version: Option<u8>,
    #[serde(default)]
    state_version: Option<u8>,
}

impl RuntimeVersionJson {
    pub(crate) fn into_version(self) -> Result<phala_runtime::RuntimeVersion, String> {
        let apis = self
            .apis
            .iter()
            .map(|(id, version)| {
                let bytes = decode_hex(id).map_err(|e| format!("api id {id}: {e}"))?;
                let id: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| format!("api id {id} is not 8 bytes"))?;
                Ok((id, *version))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(phala_runtime::RuntimeVersion {
            spec_name: self.spec_name,
            impl_name: self.impl_name,
            authoring_version: self.authoring_version,
            spec_version: self.spec_version,
            impl_version: self.impl_version,
            apis,
            transaction_version: self.transaction_version,
            system_version: self.system_version.or(self.state_version).unwrap_or(1),
        })
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
    pub(crate) fn from_json(raw: Value) -> ChainProperties {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_json_round_trips_to_the_substrate_hash() {
        let json = serde_json::json!({
            "parentHash": format!("0x{}", "00".repeat(32)),
            "number": "0x0",
            "stateRoot": format!("0x{}", "11".repeat(32)),
            "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
            "digest": {"logs": []}
        });
        let header: HeaderJson = serde_json::from_value(json).unwrap();
        let header = header.into_header().unwrap();
        assert_eq!(
            header.hash().to_hex(),
            "0xb169411d99410cee386069c51575e69d3d81f7af0ed99251c82f2320854561eb"
        );
        let child = serde_json::json!({
            "parentHash": header.hash(),
            "number": 1,
            "stateRoot": format!("0x{}", "11".repeat(32)),
            "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
            "digest": {"logs": ["0x0661757261200400000000000000"]}
        });
        let child: HeaderJson = serde_json::from_value(child).unwrap();
        assert_eq!(
            child.into_header().unwrap().hash().to_hex(),
            "0x920cfc47bdea2cf2aab51d1a8687ef60e1e1dca7921e193a86b87abffa700dcd"
        );
    }

    #[test]
    fn block_json_keeps_length_prefixed_extrinsics() {
        let json = serde_json::json!({
            "block": {
                "header": {
                    "parentHash": format!("0x{}", "00".repeat(32)),
                    "number": "0x1a",
                    "stateRoot": format!("0x{}", "11".repeat(32)),
                    "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
                    "digest": {"logs": []}
                },
                "extrinsics": ["0x0c040102"]
            },
            "justifications": null
        });
        let block: SignedBlockJson = serde_json::from_value(json).unwrap();
        let block = block.into_block().unwrap();
        assert_eq!(block.header.number, 26);
        assert_eq!(block.extrinsics[0].as_bytes(), &[0x0c, 4, 1, 2]);
        let bad = serde_json::json!({"block": {"header": {
            "parentHash": format!("0x{}", "00".repeat(32)), "number": "0x1",
            "stateRoot": format!("0x{}", "11".repeat(32)),
            "extrinsicsRoot": format!("0x{}", "22".repeat(32)), "digest": {"logs": []}},
            "extrinsics": ["0x040102"]}});
        let bad: SignedBlockJson = serde_json::from_value(bad).unwrap();
        assert!(bad.into_block().is_err());
    }

    #[test]
    fn runtime_version_and_properties_parse() {
        let json = serde_json::json!({
            "specName": "phala", "implName": "phala-node", "authoringVersion": 1,
            "specVersion": 7, "implVersion": 0,
            "apis": [["0xdf6acb689907609b", 5]],
            "transactionVersion": 2, "systemVersion": 1, "stateVersion": 1
        });
        let v: RuntimeVersionJson = serde_json::from_value(json).unwrap();
        let v = v.into_version().unwrap();
        assert_eq!((v.spec_version, v.transaction_version), (7, 2));
        assert_eq!(v.apis, vec![(phala_runtime::version::api_id("Core"), 5)]);

        let p = ChainProperties::from_json(
            serde_json::json!({"ss58Format": 30, "tokenDecimals": [12], "tokenSymbol": "PHA"}),
        );
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
