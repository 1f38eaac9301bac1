//! One integration-test binary: the real server over real HTTP, on SQLite and on PostgreSQL.

mod binary;
mod helpers;
mod python;

mod audit;
mod chat;
mod configuration;
mod console;
mod deliveries;
mod delivery_log;
mod delivery_process;
mod events;
mod formats;
mod health;
mod http_errors;
mod incident_locks;
mod incidents;
mod observability;
mod outage;
mod outbound;
mod outbox;
mod process;
mod receiver;
mod schedules;
mod schema;
mod secrets;
mod sources;
mod templates;
mod tokens;
mod webhooks;
