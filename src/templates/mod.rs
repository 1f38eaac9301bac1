//! Templates (SPEC §5): Handlebars compiled once and rendered with escaping that follows the
//! output, the context every template sees, the built-in chat formats and request templates.

pub mod context;
pub mod display;
mod engine;
pub mod formats;
mod helpers;
pub mod request;
pub mod slack_markup;
pub mod text;

pub use context::{Globals, Scope, context};
pub use engine::{CompileError, CompiledTemplate, OutputKind, RenderError};
pub use formats::BuiltIn;
pub use helpers::text as value_text;
