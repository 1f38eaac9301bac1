//! Request templates (All Quiet style, SPEC §5): a template whose output is the whole request as
//! JSON, `{"method", "url", "headers", "body": {"text"} | {"formData"} | {"json"}}`.

use serde_json::{Map, Value};

use super::engine::RenderError;
use super::helpers::text;

/// A request as a template described it; what it leaves out the caller fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestParts {
    pub method: Option<String>,
    pub url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    Text(String),
    /// Already form-encoded.
    Form(String),
    Json(String),
}

impl RequestBody {
    pub fn content_type(&self) -> &'static str {
        match self {
            RequestBody::Text(_) => "text/plain; charset=utf-8",
            RequestBody::Form(_) => "application/x-www-form-urlencoded",
            RequestBody::Json(_) => "application/json",
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            RequestBody::Text(text) | RequestBody::Form(text) | RequestBody::Json(text) => {
                text.into_bytes()
            }
        }
    }
}

fn invalid(message: impl Into<String>) -> RenderError {
    RenderError::Failed(format!("the request template's output: {}", message.into()))
}

/// Reads a rendered request template (already checked to be JSON).
pub fn parse(rendered: &str) -> Result<RequestParts, RenderError> {
    let value: Value =
        serde_json::from_str(rendered).map_err(|error| invalid(error.to_string()))?;
    let Value::Object(mut request) = value else {
        return Err(invalid("must be a JSON object"));
    };
    let method = optional_string(&mut request, "method")?;
    let url = optional_string(&mut request, "url")?;
    let headers = match request.remove("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(headers)) => headers
            .iter()
            .map(|(name, value)| (name.clone(), text(value)))
            .collect(),
        Some(_) => return Err(invalid("`headers` must be an object")),
    };
    let body = match request.remove("body") {
        None | Some(Value::Null) => None,
        Some(Value::Object(body)) => body_of(body)?,
        Some(_) => return Err(invalid("`body` must be an object")),
    };
    Ok(RequestParts {
        method,
        url,
        headers,
        body,
    })
}

fn optional_string(
    request: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, RenderError> {
    match request.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) if value.trim().is_empty() => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.trim().to_owned())),
        Some(_) => Err(invalid(format!("`{key}` must be a string"))),
    }
}

/// `text` wins over `formData`, which wins over `json`.
fn body_of(mut body: Map<String, Value>) -> Result<Option<RequestBody>, RenderError> {
    if let Some(content) = body.remove("text").filter(|v| !v.is_null()) {
        return Ok(Some(RequestBody::Text(text(&content))));
    }
    if let Some(form) = body.remove("formData").filter(|v| !v.is_null()) {
        let Value::Object(fields) = form else {
            return Err(invalid("`body.formData` must be an object"));
        };
        let mut encoded = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &fields {
            encoded.append_pair(name, &text(value));
        }
        return Ok(Some(RequestBody::Form(encoded.finish())));
    }
    Ok(body
        .remove("json")
        .map(|json| RequestBody::Json(json.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_present_body_kind_wins() {
        let both =
            parse(r#"{"body": {"json": {"a": 1}, "formData": {"b": 2}, "text": "hi"}}"#).unwrap();
        assert_eq!(both.body, Some(RequestBody::Text("hi".into())));
        let form = parse(
            r#"{"body": {"json": {"a": 1}, "formData": {"b": 2, "c": "x y", "d": {"e": true}}}}"#,
        )
        .unwrap();
        let Some(RequestBody::Form(encoded)) = form.body else {
            panic!("form")
        };
        let decoded: Vec<(String, String)> = serde_urlencoded_pairs(&encoded);
        assert_eq!(
            decoded,
            [
                ("b".into(), "2".into()),
                ("c".into(), "x y".into()),
                ("d".into(), r#"{"e":true}"#.into())
            ]
        );
        let json = parse(r#"{"body": {"json": [1, "two"]}}"#).unwrap();
        assert_eq!(json.body, Some(RequestBody::Json(r#"[1,"two"]"#.into())));
    }

    fn serde_urlencoded_pairs(encoded: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(encoded).unwrap()
    }

    #[test]
    fn method_url_and_headers_are_read_and_checked() {
        let parts = parse(r#"{"method": "put", "url": " https://x.example/a ", "headers": {"X-N": 5, "X-S": "s"}}"#).unwrap();
        assert_eq!(parts.method.as_deref(), Some("put"));
        assert_eq!(parts.url.as_deref(), Some("https://x.example/a"));
        assert_eq!(
            parts.headers,
            [
                ("X-N".to_owned(), "5".to_owned()),
                ("X-S".to_owned(), "s".to_owned())
            ]
        );
        assert_eq!(parse("{}").unwrap().body, None);
        assert!(parse(r#"[1]"#).is_err());
        assert!(
            parse(r#"{"url": 5}"#)
                .unwrap_err()
                .to_string()
                .contains("`url`")
        );
        assert!(parse(r#"{"headers": []}"#).is_err());
        assert!(parse(r#"{"body": {"formData": "a=b"}}"#).is_err());
    }
}
