//! Contracts' HTTP(S) requests, made by the host once the core has allowed them
//! (`phala_worker_core::contract_env::HttpPolicy`): no redirects, at most
//! [`MAX_HTTP_HEADERS`] headers and [`MAX_HTTP_RESPONSE`] body bytes, within the timeout.

use std::io::Read;
use std::time::Duration;

use phala_vm::{HttpRequest, HttpRequestError, HttpResponse};
use phala_worker_core::contract_env::{HttpTransport, MAX_HTTP_HEADERS, MAX_HTTP_RESPONSE};

/// The blocking reqwest client, over rustls with the platform's roots.
#[derive(Debug, Default)]
pub struct ReqwestTransport;

impl HttpTransport for ReqwestTransport {
    fn send(
        &self,
        url: &url::Url,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpRequestError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HttpRequestError::InvalidMethod)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpRequestError::InvalidHeaderName)?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| HttpRequestError::InvalidHeaderValue)?;
            headers.append(name, value);
        }
        crate::tls::ensure_provider();
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|_| HttpRequestError::FailedToCreateClient)?;
        let response = client
            .request(method, url.clone())
            .headers(headers)
            .body(request.body)
            .send()
            .map_err(|e| {
                if e.is_timeout() {
                    HttpRequestError::Timeout
                } else {
                    HttpRequestError::NetworkError
                }
            })?;
        if response.headers().len() > MAX_HTTP_HEADERS {
            return Err(HttpRequestError::TooManyHeaders);
        }
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        response
            .take(MAX_HTTP_RESPONSE as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|_| HttpRequestError::NetworkError)?;
        if body.len() > MAX_HTTP_RESPONSE {
            return Err(HttpRequestError::ResponseTooLarge);
        }
        Ok(HttpResponse {
            status_code: status.as_u16(),
            reason_phrase: status.canonical_reason().unwrap_or_default().to_string(),
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use phala_worker_core::contract_env::HttpPolicy;

    use super::*;

    #[test]
    fn an_allowed_host_is_reached_without_following_redirects() {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for (i, stream) in listener.incoming().take(2).enumerate() {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let response = if i == 0 {
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello"
                } else {
                    "HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\nContent-Length: 0\r\n\r\n"
                };
                stream.write_all(response.as_bytes()).unwrap();
            }
        });
        let policy = HttpPolicy::new(vec!["127.0.0.1".into()], Arc::new(ReqwestTransport));
        let request = HttpRequest {
            url: format!("http://127.0.0.1:{port}/price"),
            method: "POST".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"query".to_vec(),
        };
        let response = policy
            .request(request.clone(), Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            (response.status_code, response.body),
            (200, b"hello".to_vec())
        );
        assert!(response.headers.contains(&("x-test".into(), "yes".into())));
        // A redirect comes back as it is: following it could leave the allowlist.
        let redirect = policy.request(request, Duration::from_secs(5)).unwrap();
        assert_eq!(redirect.status_code, 302);
        server.join().unwrap();
    }
}
