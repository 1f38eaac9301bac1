//! From service answers to what the chat shows: answers read the way Mattermost reads them,
//! joined into the reply, or posted later into the conversation through the gateway's own
//! webhook and `response_url`s.

pub mod answer;
pub mod links;
pub mod posts;
pub mod reply;
