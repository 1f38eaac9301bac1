//! Switchyard: a self-hosted gateway between chat platforms and the services a team runs.
//!
//! Requests enter through `api` and the web console `ui` (thin HTTP handlers), which call the
//! domain modules (`chat`, `incidents`, `tokens`, `sessions`, `audit`), which emit `events`
//! through the `events::Outbox`, delivered by `delivery`, rendered by `templates`; everything
//! keeps its data through `store`. The arrows point down only; where a lower module needs an
//! upper one it defines a trait, wired in `startup`.

pub mod api;
pub mod audit;
pub mod chat;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod diff;
pub mod events;
pub mod ids;
pub mod incidents;
pub mod model;
pub mod outbound;
pub mod overview;
pub mod periodic;
pub mod schedules;
pub mod secrets;
pub mod sessions;
pub mod sources;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod timestamp;
pub mod tokens;
pub mod ui;
pub mod validation;
pub mod vars;
pub mod webhooks;
