//! Plain records shared across layers (events, templates, delivery), with no behaviour beyond
//! their own rules and no dependencies on the rest of the crate.

pub mod event;
pub mod event_types;
pub mod incident_fields;
pub mod samples;

pub use event::{EncodedEvent, Event};
