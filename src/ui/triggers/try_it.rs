//! `/ui/triggers/{id}/try`: sends a sample chat request, as Mattermost (or Slack) would send
//! it, through the real `/hooks/…/{id}` route of this same server, and shows the reply as the
//! chat would show it. The request goes over HTTP to the address the server listens on, with a
//! plain client: it is the server talking to itself, not an outbound call the SSRF guard is for.
//!
//! Chat tokens are stored only as digests, so the server cannot send one: the form asks for it.
//! A Slack signing secret is sealed, not hashed, so Slack requests are signed here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::chat_view::PostView;
use super::chrome;
use crate::api::AppState;
use crate::chat::routing::triggers::Trigger;
use crate::chat::trigger::Kind;
use crate::outbound::display::mask_in;
use crate::sessions::Session;
use crate::timestamp::now_millis;
use crate::ui::error::UiError;
use crate::ui::pages;
use crate::ui::session::{SignedIn, refuse_read};

/// Mattermost waits 30 s for a service; the gateway answers within that.
const WAIT_FOR_REPLY: Duration = Duration::from_secs(35);
/// The most of a reply read: Mattermost's limit for answers.
const MAX_REPLY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TryForm {
    #[serde(skip_serializing)]
    csrf: String,
    /// The chat token as the chat server sends it (only its digest is stored).
    token: String,
    /// The message (outgoing) or the typed command with its arguments (slash).
    text: String,
    team: String,
    channel: String,
    user: String,
}

/// What was sent and what came back.
#[derive(Debug, Serialize)]
struct TryResult {
    request: String,
    status: Option<u16>,
    ok: bool,
    error: Option<String>,
    body: String,
    reply: Option<PostView>,
}

/// The trigger signs its requests as Slack does: the server can sign them too.
fn signed(trigger: &Trigger) -> Option<&str> {
    trigger.spec.slack_signing_secret.as_deref()
}

fn defaults(trigger: &Trigger) -> TryForm {
    let spec = &trigger.spec;
    let first = |values: &[String], otherwise: &str| {
        values
            .first()
            .cloned()
            .unwrap_or_else(|| otherwise.to_owned())
    };
    let word = first(&spec.trigger_words, "");
    TryForm {
        text: format!("{word} hello").trim().to_owned(),
        team: first(&spec.teams, "console"),
        channel: first(&spec.channels, "town-square"),
        user: "console".into(),
        ..TryForm::default()
    }
}

fn page(
    session: &Session,
    trigger: &Trigger,
    form: &TryForm,
    result: Option<TryResult>,
) -> Result<HttpResponse, UiError> {
    let page = json!({
        "id": trigger.id,
        "name": trigger.spec.name,
        "kind": trigger.spec.kind.as_str(),
        "slack": signed(trigger).is_some(),
        "form": form,
        "result": result,
    });
    pages::ok("trigger_try", &chrome("Try a trigger", session), page)
}

pub async fn show(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    refuse_read(&session)?;
    let trigger = state.gateway.triggers().get(&id).await?;
    page(&session, &trigger, &defaults(&trigger), None)
}

pub async fn send(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TryForm>,
) -> Result<HttpResponse, UiError> {
    session.check_change(&form.csrf)?;
    let trigger = state.gateway.triggers().get(&id).await?;
    let sample = Sample::of(&trigger, &form, now_millis());
    let result = sample.send(own_address(state.listening)).await;
    page(&session, &trigger, &form, Some(result))
}

/// Where this server can be reached from itself: a wildcard address means any of its own.
fn own_address(listening: SocketAddr) -> SocketAddr {
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listening.port())
}

/// A chat request: its route, its form body, its headers, and the token to hide when shown.
struct Sample {
    path: String,
    body: String,
    headers: Vec<(&'static str, String)>,
    token: String,
}

impl Sample {
    /// The fields Mattermost sends (Slack's are the same names), keys sorted as Go sorts them.
    fn of(trigger: &Trigger, form: &TryForm, now_ms: i64) -> Self {
        let text = form.text.trim();
        let (first_word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let slack_secret = signed(trigger);
        let timestamp = if slack_secret.is_some() {
            format!("{}.000000", now_ms / 1000)
        } else {
            (now_ms / 1000).to_string()
        };
        let mut fields = vec![
            ("channel_id", form.channel.as_str()),
            ("channel_name", form.channel.as_str()),
        ];
        let route = match trigger.spec.kind {
            Kind::Outgoing => {
                fields.extend([("file_ids", ""), ("post_id", "console-try")]);
                "outgoing"
            }
            Kind::Slash => {
                fields.push(("command", first_word));
                "slash"
            }
        };
        let text = match trigger.spec.kind {
            Kind::Outgoing => text,
            Kind::Slash => rest.trim_start(),
        };
        fields.extend([
            ("team_domain", form.team.as_str()),
            ("team_id", form.team.as_str()),
            ("text", text),
            ("timestamp", timestamp.as_str()),
            ("token", form.token.trim()),
        ]);
        if trigger.spec.kind == Kind::Outgoing {
            fields.push(("trigger_word", first_word));
        }
        fields.extend([
            ("user_id", form.user.as_str()),
            ("user_name", form.user.as_str()),
        ]);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut headers = vec![
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ];
        if let Some(secret) = slack_secret {
            let seconds = (now_ms / 1000).to_string();
            headers.push((
                "x-slack-signature",
                slack_signature(secret, &seconds, &body),
            ));
            headers.push(("x-slack-request-timestamp", seconds));
        }
        Self {
            path: format!("/hooks/{route}/{}", trigger.id),
            body,
            headers,
            token: form.token.trim().to_owned(),
        }
    }

    /// The request as it travels, the token masked.
    fn shown(&self, address: SocketAddr) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        let mut text = format!(
            "POST http://{address}{}\n{}\n\n{}",
            self.path,
            headers.join("\n"),
            self.body
        );
        mask_in(&mut text, &self.token);
        text
    }

    async fn send(self, address: SocketAddr) -> TryResult {
        let request = self.shown(address);
        let answer = tokio::time::timeout(WAIT_FOR_REPLY, self.exchange(address))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", WAIT_FOR_REPLY.as_secs())));
        match answer {
            Ok((status, body)) => {
                let reply = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .filter(Value::is_object)
                    .map(|reply| PostView::of(&reply));
                TryResult {
                    request,
                    status: Some(status),
                    ok: status == 200,
                    error: None,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    reply,
                }
            }
            Err(error) => TryResult {
                request,
                status: None,
                ok: false,
                error: Some(error),
                body: String::new(),
                reply: None,
            },
        }
    }

    async fn exchange(&self, address: SocketAddr) -> Result<(u16, Bytes), String> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut builder = hyper::Request::post(format!("http://{address}{}", self.path));
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(Full::new(Bytes::from(self.body.clone())))
            .map_err(|error| error.to_string())?;
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("could not reach this server at {address}: {error}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|error| format!("the reply could not be read: {error}"))?;
        Ok((status, body.to_bytes()))
    }
}

/// Slack's `v0` signature of `body` at `timestamp` (Unix seconds).
fn slack_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length.
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::inbound::auth::{SlackSignature, verify_slack};

    #[test]
    fn slack_signatures_are_what_the_gateway_verifies() {
        let body = "text=hi&token=";
        let signature = SlackSignature {
            timestamp: "1531420618".into(),
            signature: slack_signature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body),
        };
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        assert!(verify_slack(
            secret,
            &signature,
            body.as_bytes(),
            1_531_420_618
        ));
    }

    #[test]
    fn a_wildcard_listener_is_reached_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(own_address(any).to_string(), "127.0.0.1:8080");
        let one: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(own_address(one), one);
    }
}
