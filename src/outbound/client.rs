//! Sending requests: shared connection pools (one verifying TLS, one for endpoints that opted
//! out), the SSRF-guarded resolver, no redirects, a cap on how much of an answer is read.
//!
//! Built on hyper-util's pooled client rather than reqwest, which wraps the same client: in a
//! bare forwarder reqwest's own layers (redirect and retry services, URL conversions, boxed
//! futures) cost a fifth of the CPU time per request (BENCHMARKS.md, chat round trip). Svix's
//! server sends its webhooks the same way.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper::body::Bytes;
use hyper::header::{ACCEPT, HeaderValue, USER_AGENT};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use url::{Host, Position};

use super::request::OutboundRequest;
use super::ssrf::{GuardedResolver, NetworkPolicy, SsrfError};
use super::tls;

/// At most this much of an answer is read (Mattermost's limit for service answers).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// As received: kept as hyper parsed them, not copied into strings.
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The answer was longer than [`MAX_RESPONSE_BYTES`] and was cut.
    pub truncated: bool,
}

impl OutboundResponse {
    /// The first value of the header `name` (any case), when it is UTF-8 (`to_str` would
    /// refuse anything beyond visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
    }

    /// Every header, names in lower case, values as text (invalid UTF-8 replaced).
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("refused by the SSRF guard: {0}")]
    Refused(#[from] SsrfError),
    #[error("timed out after {0} ms")]
    TimedOut(u128),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the outbound HTTP client: {0}")]
pub struct ClientError(#[from] rustls::Error);

type Pool = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

const IDLE_CONNECTIONS_KEPT_FOR: Duration = Duration::from_secs(90);
const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("Switchyard/", env!("CARGO_PKG_VERSION")));
const ANY_MEDIA_TYPE: HeaderValue = HeaderValue::from_static("*/*");

#[derive(Clone)]
pub struct HttpClients {
    verified: Pool,
    insecure: Pool,
    policy: Arc<NetworkPolicy>,
}

impl HttpClients {
    pub fn new(policy: NetworkPolicy) -> Result<Self, ClientError> {
        tls::install_crypto_provider();
        Self::with_policy(Arc::new(policy))
    }

    fn with_policy(policy: Arc<NetworkPolicy>) -> Result<Self, ClientError> {
        Ok(Self {
            verified: pool(tls::verifying()?, &policy),
            insecure: pool(tls::accepting_any_certificate()?, &policy),
            policy,
        })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// The same clients with connection pools of the calling thread's own. A connection
    /// belongs to the runtime that opened it; an HTTP worker thread that uses another thread's
    /// connections wakes that thread twice a request. Built once per thread, handed out as
    /// one reference count (a copy of the clients would be a dozen).
    pub fn on_this_thread(&self) -> Arc<HttpClients> {
        thread_local! {
            static LOCAL: RefCell<Vec<(usize, Arc<HttpClients>)>> = const { RefCell::new(Vec::new()) };
        }
        // Keyed by the policy's address: the cached clients hold the policy, so the address
        // cannot be reused by another policy while its entry lives.
        let key = Arc::as_ptr(&self.policy) as usize;
        LOCAL.with_borrow_mut(|local| {
            if let Some((_, clients)) = local.iter().find(|(owner, _)| *owner == key) {
                return Arc::clone(clients);
            }
            match Self::with_policy(Arc::clone(&self.policy)) {
                Ok(clients) => {
                    let clients = Arc::new(clients);
                    local.push((key, Arc::clone(&clients)));
                    clients
                }
                Err(_) => Arc::new(self.clone()),
            }
        })
    }

    /// Sends `request`; every error is classified for the retry rules. `timeout` covers
    /// everything from connecting to the last byte of the answer.
    pub async fn send(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        insecure_tls: bool,
    ) -> Result<OutboundResponse, SendError> {
        // Names are checked by the resolver; addresses given literally never reach it.
        match request.url.host() {
            Some(Host::Ipv4(v4)) => self.policy.check_literal(&request.url, v4.into())?,
            Some(Host::Ipv6(v6)) => self.policy.check_literal(&request.url, v6.into())?,
            _ => {}
        }
        let pool = if insecure_tls {
            &self.insecure
        } else {
            &self.verified
        };
        let prepared = prepare(request)?;
        tokio::time::timeout(timeout, exchange(pool, prepared))
            .await
            .unwrap_or(Err(SendError::TimedOut(timeout.as_millis())))
    }
}

fn pool(tls: ClientConfig, policy: &Arc<NetworkPolicy>) -> Pool {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(Arc::clone(policy)));
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_CONNECTIONS_KEPT_FOR)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// The request as hyper sends it (endpoint URLs carry no credentials: validation refuses them).
fn prepare(request: &OutboundRequest) -> Result<hyper::Request<Full<Bytes>>, SendError> {
    let mut builder = hyper::Request::builder()
        .method(request.method.as_http())
        .uri(&request.url[..Position::AfterQuery]);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(headers) = builder.headers_mut() {
        headers.entry(USER_AGENT).or_insert(USER_AGENT_VALUE);
        headers.entry(ACCEPT).or_insert(ANY_MEDIA_TYPE);
    }
    builder
        .body(Full::new(request.body.clone()))
        .map_err(|error| SendError::Failed(format!("cannot build the request: {error}")))
}

async fn exchange(
    pool: &Pool,
    request: hyper::Request<Full<Bytes>>,
) -> Result<OutboundResponse, SendError> {
    let response = pool.request(request).await.map_err(classify)?;
    let (parts, mut incoming) = response.into_parts();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|error| SendError::Failed(innermost_message(&error)))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        let room = MAX_RESPONSE_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(OutboundResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        truncated,
    })
}

fn classify(error: hyper_util::client::legacy::Error) -> SendError {
    if let Some(refused) = find_cause::<SsrfError>(&error) {
        return SendError::Refused(refused.clone());
    }
    let detail = innermost_message(&error);
    if error.is_connect() {
        SendError::Connect(detail)
    } else {
        SendError::Failed(detail)
    }
}

fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The root cause ("Connection refused (os error 111)") says more than hyper's wrapper.
fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}
