//! Receivers for outbound requests: wiremock servers answering from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers requests with the scripted responses in order, then with the last one forever,
/// and notes when each request arrived.
#[derive(Clone)]
pub struct Script {
    inner: Arc<Mutex<ScriptState>>,
}

struct ScriptState {
    queue: VecDeque<ResponseTemplate>,
    last: ResponseTemplate,
    arrivals: Vec<Instant>,
}

impl Script {
    pub fn new(responses: Vec<ResponseTemplate>) -> Self {
        let mut queue: VecDeque<_> = responses.into();
        let last = queue
            .back()
            .cloned()
            .unwrap_or_else(|| ResponseTemplate::new(200));
        if queue.len() == 1 {
            queue.clear();
        }
        Self {
            inner: Arc::new(Mutex::new(ScriptState {
                queue,
                last,
                arrivals: Vec::new(),
            })),
        }
    }

    /// Answers from now on with `response`.
    pub fn switch_to(&self, response: ResponseTemplate) {
        let mut state = self.inner.lock().unwrap();
        state.queue.clear();
        state.last = response;
    }

    pub fn arrivals(&self) -> Vec<Instant> {
        self.inner.lock().unwrap().arrivals.clone()
    }
}

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut state = self.inner.lock().unwrap();
        state.arrivals.push(Instant::now());
        state
            .queue
            .pop_front()
            .unwrap_or_else(|| state.last.clone())
    }
}

/// A receiver answering every request from `script`.
pub async fn receiver(script: &Script) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(script.clone())
        .mount(&server)
        .await;
    server
}

pub fn status(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code)
}
