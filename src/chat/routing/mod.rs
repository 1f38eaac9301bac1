//! Which trigger a message is for: every trigger compiled into a route, the routes indexed by
//! trigger word and channel, and the trigger resource whose changes rebuild the index.

pub mod route;
pub mod table;
pub mod triggers;
