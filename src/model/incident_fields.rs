//! The values an incident's severity and status take (SPEC §4.2), shared by incidents and by
//! the webhook filters that select on them.

pub const SEVERITIES: [&str; 4] = ["critical", "warning", "minor", "info"];
pub const STATUSES: [&str; 3] = ["open", "acknowledged", "resolved"];
