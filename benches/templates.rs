//! Rendering cost per event: the context (event, display, globals) plus the template, as a
//! delivery pays it. `cargo bench --bench templates`; figures go in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use switchyard::model::samples::sample_event;
use switchyard::templates::{self, BuiltIn, CompiledTemplate, Globals, OutputKind, Scope};

const SCOPE: Scope<'static> = Scope {
    webhook_id: "whk_bench",
    webhook_name: "bench",
    delivery_id: "dlv_bench",
    attempt: 1,
};

fn globals() -> Globals {
    Globals {
        env: Arc::new(json!({"REGION": "eu-1"})),
        vars: Arc::new(json!({"report_url": "https://r.example/x", "team": "ops"})),
    }
}

fn built_in_formats(c: &mut Criterion) {
    let globals = globals();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for (format, name) in [
        (BuiltIn::Slack, "slack"),
        (BuiltIn::Teams, "teams"),
        (BuiltIn::TeamsAdaptive, "teams-adaptive"),
        (BuiltIn::Discord, "discord"),
        (BuiltIn::Mattermost, "mattermost"),
    ] {
        let event = sample_event("incident.created");
        group.bench_function(format!("{name}/incident.created"), |b| {
            b.iter(|| templates::formats::render(format, black_box(&event)).expect("renders"))
        });
    }
    let custom = CompiledTemplate::compile(
        r#"{"text": "{{upper incident.severity}}: {{incident.title}}", "attributes": {{json incident.attributes}}, "report": "{{vars.report_url}}"}"#,
        OutputKind::Json,
        false,
    )
    .expect("compiles");
    let event = sample_event("incident.created");
    group.bench_function("custom-json/incident.created", |b| {
        b.iter(|| {
            custom
                .render(templates::context(black_box(&event), &SCOPE, &globals))
                .expect("renders")
        })
    });
    group.bench_function("context-only/incident.created", |b| {
        b.iter(|| templates::context(black_box(&event), &SCOPE, &globals))
    });
    group.finish();
}

criterion_group!(benches, built_in_formats);
criterion_main!(benches);
