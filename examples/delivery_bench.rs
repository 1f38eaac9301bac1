//! End-to-end delivery benchmark: a fast local receiver and a load generator, against one or
//! more running Switchyard servers. Run through `bench/delivery.sh`, which starts the servers.
//!
//!   delivery_bench --server URL [--server URL2] --token T --events N --connections C
//!                  [--rate R]        send R events a second instead of as fast as possible
//!                  [--no-webhook]    measure intake alone: no webhook subscribed
//!                  [--down-receiver] the receiver is down for maintenance (503 with
//!                                    Retry-After: 3600); do not wait for arrivals, which
//!                                    leaves the whole load pending in the queue
//!                  [--alerts K]      post alerts (`trigger`, over K dedup keys: K incidents
//!                                    opened, the rest occurrences) to /api/v1/alerts with a
//!                                    webhook on `incident.*`; report acceptance only
//!                  [--groups G]      with --alerts: post them to an Alertmanager source
//!                                    instead, G alerts a request (N alerts in all)
//!
//! It prints accepted events a second (client side), delivered a second (first send to last
//! arrival), and the latency from each event's send to its arrival at the receiver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

struct Options {
    servers: Vec<String>,
    token: String,
    events: usize,
    connections: usize,
    rate: Option<f64>,
    webhook: bool,
    down_receiver: bool,
    /// Post alerts over this many dedup keys instead of events.
    alert_keys: Option<usize>,
    /// Post the alerts to an Alertmanager source, this many a request.
    group: Option<usize>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        servers: Vec::new(),
        token: String::new(),
        events: 20_000,
        connections: 32,
        rate: None,
        webhook: true,
        down_receiver: false,
        alert_keys: None,
        group: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => options.servers.push(value()),
            "--token" => options.token = value(),
            "--events" => options.events = value().parse().expect("--events"),
            "--connections" => options.connections = value().parse().expect("--connections"),
            "--rate" => options.rate = Some(value().parse().expect("--rate")),
            "--no-webhook" => options.webhook = false,
            "--down-receiver" => options.down_receiver = true,
            "--alerts" => options.alert_keys = Some(value().parse().expect("--alerts")),
            "--groups" => options.group = Some(value().parse().expect("--groups")),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(!options.servers.is_empty(), "--server is required");
    options
}

#[derive(Default)]
struct Arrivals {
    at: HashMap<u64, Instant>,
    requests: usize,
}

/// Whether the receiver answers as if down for maintenance.
struct Down(bool);

async fn receive(
    body: web::Bytes,
    arrivals: web::Data<Mutex<Arrivals>>,
    down: web::Data<Down>,
) -> HttpResponse {
    if down.0 {
        return HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "3600"))
            .finish();
    }
    let now = Instant::now();
    let seq = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|event| event["data"]["seq"].as_u64());
    let mut arrivals = arrivals.lock().unwrap();
    arrivals.requests += 1;
    if let Some(seq) = seq {
        arrivals.at.entry(seq).or_insert(now);
    }
    HttpResponse::Ok().finish()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[actix_web::main]
async fn main() {
    let options = options();
    let arrivals = web::Data::new(Mutex::new(Arrivals::default()));
    let receiver_arrivals = arrivals.clone();
    let down = web::Data::new(Down(options.down_receiver));
    let receiver = HttpServer::new(move || {
        App::new()
            .app_data(receiver_arrivals.clone())
            .app_data(down.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind the receiver");
    let receiver_url = format!("http://{}/hook", receiver.addrs()[0]);
    let receiver = receiver.run();
    let receiver_handle = receiver.handle();
    tokio::spawn(receiver);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()
        .unwrap();
    if options.webhook {
        let events = if options.alert_keys.is_some() {
            "incident.*"
        } else {
            "x.bench"
        };
        let spec = json!({"name": "bench", "endpoint": {"url": receiver_url}, "events": [events]});
        let response = client
            .post(format!("{}/api/v1/webhooks", options.servers[0]))
            .bearer_auth(&options.token)
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "create webhook: {}",
            response.text().await.unwrap()
        );
    }

    let source_path = match options.group {
        Some(_) => Some(create_source(&client, &options).await),
        None => None,
    };
    let requests = options.events / options.group.unwrap_or(1);
    let sent_at: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; options.events]));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let interval = options.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let workers = if interval.is_some() {
        1
    } else {
        options.connections
    };
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, next, sent_at) = (client.clone(), Arc::clone(&next), Arc::clone(&sent_at));
        let (servers, token, alert_keys, group, source_path) = (
            options.servers.clone(),
            options.token.clone(),
            options.alert_keys,
            options.group,
            source_path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut pacing = interval.map(tokio::time::interval);
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if seq >= requests {
                    return;
                }
                if let Some(pacing) = pacing.as_mut() {
                    pacing.tick().await;
                }
                let server = &servers[seq % servers.len()];
                let (path, body, expected) = match (alert_keys, group, &source_path) {
                    (Some(keys), Some(group), Some(path)) => (path.clone(), alertmanager_group(seq, group, keys), 200),
                    (Some(keys), _, _) => ("/api/v1/alerts".to_owned(), json!({"dedup_key": format!("host-{}/cpu", seq % keys), "action": "trigger",
                        "title": "CPU high", "severity": "critical", "source": "bench", "attributes": {"seq": seq}}), 202),
                    _ => ("/api/v1/events".to_owned(), json!({"type": "x.bench", "data": {"seq": seq}}), 202),
                };
                sent_at.lock().unwrap()[seq] = Some(Instant::now());
                let response = client
                    .post(format!("{server}{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("post event");
                assert_eq!(response.status().as_u16(), expected, "post event");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let accepted_in = started.elapsed();
    println!(
        "accepted {} events in {:.2} s: {:.0} events/s ({} connections, {} server(s))",
        options.events,
        accepted_in.as_secs_f64(),
        options.events as f64 / accepted_in.as_secs_f64(),
        workers,
        options.servers.len()
    );
    if !options.webhook || options.down_receiver || options.alert_keys.is_some() {
        receiver_handle.stop(false).await;
        return;
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.lock().unwrap().at.len() < options.events {
        assert!(Instant::now() < deadline, "deliveries did not all arrive");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report(&arrivals.lock().unwrap(), &sent_at.lock().unwrap(), started);
    receiver_handle.stop(false).await;
}

/// An Alertmanager source (with a URL token); returns the path to post to.
async fn create_source(client: &reqwest::Client, options: &Options) -> String {
    let spec = json!({"name": "bench-alertmanager", "kind": "alertmanager"});
    let response = client
        .post(format!("{}/api/v1/sources", options.servers[0]))
        .bearer_auth(&options.token)
        .json(&spec)
        .send()
        .await
        .unwrap();
    let created: Value = response.json().await.unwrap();
    let url = created["url"].as_str().expect("the source's URL");
    let path_at = url.find("/hooks/").expect("a /hooks/ URL");
    url[path_at..].to_owned()
}

/// Request `seq` as Alertmanager sends a group: `group` firing alerts, their fingerprints over
/// `keys` (the shape of its webhook body, `version` "4").
fn alertmanager_group(seq: usize, group: usize, keys: usize) -> Value {
    let alerts: Vec<Value> = (0..group)
        .map(|n| {
            let key = (seq * group + n) % keys;
            json!({"status": "firing", "labels": {"alertname": "HostHighCpuLoad", "instance": format!("host-{key}:9100"), "severity": "critical"},
                "annotations": {"summary": format!("CPU high on host-{key}"), "description": "CPU load is above 90 %"},
                "startsAt": "2026-12-07T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=cpu", "fingerprint": format!("{key:016x}")})
        })
        .collect();
    json!({"receiver": "switchyard", "status": "firing", "alerts": alerts, "groupLabels": {"alertname": "HostHighCpuLoad"},
        "commonLabels": {"alertname": "HostHighCpuLoad"}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "version": "4", "groupKey": "{}:{alertname=\"HostHighCpuLoad\"}", "truncatedAlerts": 0})
}

fn report(arrivals: &Arrivals, sent_at: &[Option<Instant>], started: Instant) {
    let last = arrivals.at.values().max().copied().unwrap_or(started);
    let total = last - started;
    let mut latencies: Vec<Duration> = arrivals
        .at
        .iter()
        .filter_map(|(seq, arrived)| {
            sent_at[*seq as usize].map(|sent| arrived.saturating_duration_since(sent))
        })
        .collect();
    latencies.sort();
    println!(
        "delivered {} (in {} requests) in {:.2} s: {:.0} deliveries/s end to end",
        arrivals.at.len(),
        arrivals.requests,
        total.as_secs_f64(),
        arrivals.at.len() as f64 / total.as_secs_f64()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "send-to-arrival latency: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
}
