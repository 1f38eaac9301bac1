//! Sending requests: shared connection pools (one verifying TLS, one for endpoints that opted
//! out), the SSRF-guarded resolver, no redirects, a cap on how much of an answer is read.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Client;
use url::Host;

use super::request::OutboundRequest;
use super::ssrf::{GuardedResolver, NetworkPolicy, SsrfError};

/// At most this much of an answer is read (Mattermost's limit for service answers).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The answer was longer than [`MAX_RESPONSE_BYTES`] and was cut.
    pub truncated: bool,
}

impl OutboundResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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
pub struct ClientError(#[from] reqwest::Error);

#[derive(Clone)]
pub struct HttpClients {
    verified: Client,
    insecure: Client,
    policy: Arc<NetworkPolicy>,
}

impl HttpClients {
    pub fn new(policy: NetworkPolicy) -> Result<Self, ClientError> {
        install_crypto_provider();
        Self::with_policy(Arc::new(policy))
    }

    fn with_policy(policy: Arc<NetworkPolicy>) -> Result<Self, ClientError> {
        let builder = || {
            Client::builder()
                .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&policy))))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("Switchyard/", env!("CARGO_PKG_VERSION")))
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .retry(reqwest::retry::never())
        };
        Ok(Self {
            verified: builder().build()?,
            insecure: builder().danger_accept_invalid_certs(true).build()?,
            policy,
        })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// The same clients with connection pools of the calling thread's own. A connection
    /// belongs to the runtime that opened it; an HTTP worker thread that uses another thread's
    /// connections wakes that thread twice a request. Built once per thread.
    pub fn on_this_thread(&self) -> HttpClients {
        thread_local! {
            static LOCAL: RefCell<Vec<(usize, HttpClients)>> = const { RefCell::new(Vec::new()) };
        }
        // Keyed by the policy's address: the cached clients hold the policy, so the address
        // cannot be reused by another policy while its entry lives.
        let key = Arc::as_ptr(&self.policy) as usize;
        LOCAL.with_borrow_mut(|local| {
            if let Some((_, clients)) = local.iter().find(|(owner, _)| *owner == key) {
                return clients.clone();
            }
            match Self::with_policy(Arc::clone(&self.policy)) {
                Ok(clients) => {
                    local.push((key, clients.clone()));
                    clients
                }
                Err(_) => self.clone(),
            }
        })
    }

    /// Sends `request`; every error is classified for the retry rules.
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
        let client = if insecure_tls {
            &self.insecure
        } else {
            &self.verified
        };
        let mut builder = client
            .request(request.method.as_reqwest(), request.url.clone())
            .timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let classify = |error: reqwest::Error| classify(error, timeout);
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            let room = MAX_RESPONSE_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
            truncated,
        })
    }
}

/// Makes ring the process's TLS provider; every HTTP client needs one. Calling it again does
/// nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn classify(error: reqwest::Error, timeout: Duration) -> SendError {
    if let Some(refused) = find_cause::<SsrfError>(&error) {
        return SendError::Refused(refused.clone());
    }
    if error.is_timeout() {
        return SendError::TimedOut(timeout.as_millis());
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

/// The root cause ("Connection refused (os error 111)") says more than reqwest's wrapper.
fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}
