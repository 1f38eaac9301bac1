//! Matching a chat message to its trigger with 1, 100 and 10,000 triggers: the cost must not
//! grow with the number of triggers (SPEC §3.2). `cargo bench --bench matching`; figures go in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;
use switchyard::chat::inbound::message::{ChatMessage, Encoding};
use switchyard::chat::routing::route::Route;
use switchyard::chat::routing::table::Index;
use switchyard::chat::trigger::{Kind, TriggerSpec};

/// `count` triggers of one kind (`exact`, `prefix`, `case-insensitive`), or of all kinds mixed
/// with a channel-only one in a hundred (`mixed`).
fn index(kind: &str, count: usize) -> Index {
    let routes = (0..count)
        .map(|n| {
            let mut spec = json!({
                "name": format!("t{n}"), "tokens": ["bench-token-0123456789"],
                "trigger_words": [format!("#w{n}"), format!("!alias{n}")],
                "services": [{"endpoint": {"url": "https://svc.example/chat"}}],
            });
            let kind = match kind {
                "mixed" => ["exact", "prefix", "case-insensitive", "exact"][n % 4],
                other => other,
            };
            match kind {
                "prefix" => spec["trigger_when"] = json!("prefix"),
                "case-insensitive" => spec["case_sensitive"] = json!(false),
                _ => {}
            }
            if kind == "mixed" && n % 100 == 99 {
                spec["trigger_words"] = json!([]);
                spec["channels"] = json!([format!("channel-{n}")]);
            }
            let spec: TriggerSpec = serde_json::from_value(spec).expect("a valid trigger");
            Arc::new(Route::compile(format!("trg_{n:06}"), spec, 0).expect("compiles"))
        })
        .collect();
    Index::build(routes)
}

fn message(text: &str) -> ChatMessage {
    let body = format!(
        "channel_id=c1&channel_name=town-square&team_id=t1&team_domain=acme&token=bench-token-0123456789&text={}",
        form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
    );
    ChatMessage::parse(Kind::Outgoing, Encoding::Form, body.as_bytes(), false).expect("parses")
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("match");
    // Each message fires the first trigger, which is there at every size; the last misses.
    let cases = [
        ("exact", "exact", "#w0 deploy main"),
        ("prefix", "prefix", "#w0-and-more deploy"),
        ("case-insensitive", "case-insensitive", "#W0 deploy"),
        ("mixed, no match", "mixed", "hello there"),
    ];
    for (name, kind, text) in cases {
        let message = message(text);
        for count in [1, 100, 10_000] {
            let index = index(kind, count);
            group.bench_with_input(BenchmarkId::new(name, count), &message, |b, message| {
                b.iter(|| black_box(index.candidates(black_box(message))).len());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
