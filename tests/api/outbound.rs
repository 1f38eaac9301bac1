//! The outbound client on the wire: TLS verification and its opt-out.

use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::helpers::{settled, spawn_app_reaching_loopback, webhook};

/// An HTTPS receiver with a self-signed certificate for 127.0.0.1: answers every request with
/// `200` and keeps the bodies it read.
struct SelfSignedReceiver {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl SelfSignedReceiver {
    async fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let certificate = CertificateDer::from(certified.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, kept) = (acceptor.clone(), Arc::clone(&kept));
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    if let Some(body) = read_request_body(&mut tls).await {
                        kept.lock().unwrap().push(body);
                        let answer =
                            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                        let _ = tls.write_all(answer.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        Self { url, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request with a `content-length` body and returns the body.
async fn read_request_body(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&buffer);
        let Some(end_of_head) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..end_of_head]
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let body_start = end_of_head + 4;
        if buffer.len() >= body_start + length {
            return Some(
                String::from_utf8_lossy(&buffer[body_start..body_start + length]).into_owned(),
            );
        }
    }
}

crate::backend_tests! {
    async fn a_self_signed_certificate_is_refused_unless_the_endpoint_allows_insecure_tls(backend: Backend) {
        let app = spawn_app_reaching_loopback(backend).await;
        let receiver = SelfSignedReceiver::start().await;
        app.create_webhook(webhook("checked", &receiver.url, json!({"max_attempts": 1}))).await;
        let refused = app.post_event(json!({"type": "x.checked", "subject": "s", "data": {}})).await;
        let delivery = &app.deliveries_of(&refused, settled).await[0];
        assert_eq!(delivery["status"], "failed", "{delivery}");
        let error = delivery["last_error"].as_str().unwrap();
        assert!(error.contains("certificate"), "{error}");
        assert!(receiver.bodies().is_empty(), "nothing may be sent over an unverified connection");

        app.create_webhook(webhook("trusting", &receiver.url, json!({
            "events": ["x.trusting"], "endpoint": {"allow_insecure_tls": true}}))).await;
        let sent = app.post_event(json!({"type": "x.trusting", "subject": "s", "data": {"n": 1}})).await;
        let delivery = &app.deliveries_of(&sent, settled).await[0];
        assert_eq!(delivery["status"], "succeeded", "{delivery}");
        let bodies = receiver.bodies();
        assert_eq!(bodies.len(), 1);
        assert!(bodies[0].contains(&sent), "the event went over TLS: {}", bodies[0]);
    }
}
