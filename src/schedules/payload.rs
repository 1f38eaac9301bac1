//! A schedule's payload: JSON whose strings are templates (§5), compiled when the schedule is
//! saved and rendered at each firing. Each string renders as text and goes back into the JSON
//! as a string, so no value can break the document's syntax.

use serde_json::{Map, Value};

use crate::templates::{CompiledTemplate, OutputKind, RenderError};
use crate::validation::Invalid;

const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
enum Node {
    Template(CompiledTemplate),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
    /// Numbers, booleans, null, and strings without a template.
    Fixed(Value),
}

#[derive(Debug, Clone)]
pub struct PayloadTemplate(Node);

impl PayloadTemplate {
    /// Compiles every string of `payload`; a template that does not compile is named by its
    /// path (`payload.blocks[0].text`).
    pub fn compile(payload: &Value) -> Result<Self, Invalid> {
        let size = serde_json::to_string(payload).map_or(usize::MAX, |text| text.len());
        if size > MAX_PAYLOAD_BYTES {
            return Err(Invalid::new(
                "payload",
                format!("must be at most {MAX_PAYLOAD_BYTES} bytes of JSON"),
            ));
        }
        compile(payload, "payload").map(Self)
    }

    /// The payload with every template rendered over `context`.
    pub fn render(&self, context: &Value) -> Result<Value, RenderError> {
        render(&self.0, context)
    }
}

fn compile(value: &Value, path: &str) -> Result<Node, Invalid> {
    Ok(match value {
        Value::String(text) if text.contains("{{") => Node::Template(
            CompiledTemplate::compile(text, OutputKind::Text, false)
                .map_err(|error| Invalid::new(path, error.to_string()))?,
        ),
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| compile(item, &format!("{path}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Node::Object(
            fields
                .iter()
                .map(|(key, item)| Ok((key.clone(), compile(item, &format!("{path}.{key}"))?)))
                .collect::<Result<_, Invalid>>()?,
        ),
        other => Node::Fixed(other.clone()),
    })
}

fn render(node: &Node, context: &Value) -> Result<Value, RenderError> {
    Ok(match node {
        Node::Template(template) => Value::String(template.render(context.clone())?),
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render(item, context))
                .collect::<Result<_, _>>()?,
        ),
        Node::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| Ok((key.clone(), render(item, context)?)))
                .collect::<Result<Map<_, _>, RenderError>>()?,
        ),
        Node::Fixed(value) => value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_string_renders_as_a_string_whatever_it_holds() {
        let payload =
            json!({"text": "Report: {{vars.url}}", "n": 3, "list": ["{{schedule.name}}", "plain"]});
        let template = PayloadTemplate::compile(&payload).unwrap();
        let context =
            json!({"vars": {"url": "https://r.example/?a=\"b\""}, "schedule": {"name": "daily"}});
        assert_eq!(
            template.render(&context).unwrap(),
            json!({"text": "Report: https://r.example/?a=\"b\"", "n": 3, "list": ["daily", "plain"]})
        );
    }

    #[test]
    fn a_template_that_does_not_compile_is_named_by_its_path() {
        let payload = json!({"blocks": [{"text": "{{#if}}"}]});
        let invalid = PayloadTemplate::compile(&payload).unwrap_err();
        assert_eq!(invalid.field, "payload.blocks[0].text");
    }
}
