//! A webhook's `filter` (SPEC §6.2): which incident events it receives, by severity, status,
//! source and attribute conditions. Evaluated when deliveries are created; events that do not
//! concern an incident pass.

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::incident_fields::{SEVERITIES, STATUSES};
use crate::templates::value_text;
use crate::validation::Invalid;

/// A pattern this long is configuration gone wrong.
const MAX_PATTERN_CHARS: usize = 1000;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Empty: any severity.
    #[serde(default)]
    pub severities: Vec<String>,
    #[serde(default)]
    pub statuses: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<Condition>,
    /// Whether `all` attribute conditions must hold, or `any` one.
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    #[default]
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub name: String,
    pub op: Op,
    /// Compared with the attribute's value; not needed for `exists`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
    Regex,
}

/// A filter ready to evaluate: values lower-cased, patterns compiled.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    severities: Vec<String>,
    statuses: Vec<String>,
    sources: Vec<String>,
    conditions: Vec<(Condition, Option<Regex>)>,
    match_mode: MatchMode,
}

impl PartialEq for CompiledFilter {
    fn eq(&self, other: &Self) -> bool {
        self.severities == other.severities
            && self.statuses == other.statuses
            && self.sources == other.sources
            && self.match_mode == other.match_mode
            && self.conditions.len() == other.conditions.len()
            && self
                .conditions
                .iter()
                .zip(&other.conditions)
                .all(|((a, _), (b, _))| a == b)
    }
}

fn lowered(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|value| value.trim().to_lowercase())
        .collect()
}

fn check_values(field: &str, values: &[String], allowed: &[&str]) -> Result<(), Invalid> {
    for (index, value) in lowered(values).iter().enumerate() {
        if !allowed.contains(&value.as_str()) {
            return Err(Invalid::new(
                format!("filter.{field}[{index}]"),
                format!("must be one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

impl Filter {
    pub fn compile(&self) -> Result<CompiledFilter, Invalid> {
        check_values("severities", &self.severities, &SEVERITIES)?;
        check_values("statuses", &self.statuses, &STATUSES)?;
        let conditions = self
            .attributes
            .iter()
            .enumerate()
            .map(|(index, condition)| compile_condition(condition, index))
            .collect::<Result<_, _>>()?;
        Ok(CompiledFilter {
            severities: lowered(&self.severities),
            statuses: lowered(&self.statuses),
            sources: lowered(&self.sources),
            conditions,
            match_mode: self.match_mode,
        })
    }
}

fn compile_condition(
    condition: &Condition,
    index: usize,
) -> Result<(Condition, Option<Regex>), Invalid> {
    let field = |part: &str| format!("filter.attributes[{index}].{part}");
    if condition.name.trim().is_empty() {
        return Err(Invalid::new(field("name"), "must not be empty"));
    }
    let value = condition.value.as_ref().filter(|value| !value.is_null());
    if condition.op != Op::Exists && value.is_none() {
        return Err(Invalid::new(field("value"), "is needed for this `op`"));
    }
    let regex = match (condition.op, value) {
        (Op::Regex, Some(pattern)) => {
            let pattern = value_text(pattern);
            if pattern.chars().count() > MAX_PATTERN_CHARS {
                return Err(Invalid::new(field("value"), "is too long a pattern"));
            }
            let compiled = regex::RegexBuilder::new(&pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|error| {
                    Invalid::new(field("value"), format!("is not a valid pattern: {error}"))
                })?;
            Some(compiled)
        }
        _ => None,
    };
    Ok((condition.clone(), regex))
}

impl CompiledFilter {
    /// Whether an incident (as delivered in an event's `data`) passes.
    pub fn accepts_incident(&self, incident: &Value) -> bool {
        let field = |name: &str| {
            incident
                .get(name)
                .map(value_text)
                .unwrap_or_default()
                .to_lowercase()
        };
        let listed =
            |allowed: &[String], value: String| allowed.is_empty() || allowed.contains(&value);
        if !listed(&self.severities, field("severity"))
            || !listed(&self.statuses, field("status"))
            || !listed(&self.sources, field("source"))
        {
            return false;
        }
        if self.conditions.is_empty() {
            return true;
        }
        let attributes = incident.get("attributes").and_then(Value::as_array);
        let value_of = |name: &str| {
            attributes?
                .iter()
                .find(|attribute| {
                    attribute
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.trim()))
                })
                .map(|attribute| attribute.get("value").map(value_text).unwrap_or_default())
        };
        let mut results = self
            .conditions
            .iter()
            .map(|(condition, regex)| holds(condition, regex.as_ref(), value_of(&condition.name)));
        match self.match_mode {
            MatchMode::All => results.all(|holds| holds),
            MatchMode::Any => results.any(|holds| holds),
        }
    }
}

/// One condition on an attribute's value (`None`: the incident has no such attribute). Text
/// comparisons ignore case; order comparisons are numeric when both sides are numbers.
fn holds(condition: &Condition, regex: Option<&Regex>, actual: Option<String>) -> bool {
    let Some(actual) = actual else {
        return matches!(condition.op, Op::Ne | Op::NotContains);
    };
    let expected = condition.value.as_ref().map(value_text).unwrap_or_default();
    let (left, right) = (actual.to_lowercase(), expected.to_lowercase());
    let ordering = || match (actual.trim().parse::<f64>(), expected.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b),
        _ => Some(left.cmp(&right)),
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    match condition.op {
        Op::Exists => true,
        Op::Eq => left == right,
        Op::Ne => left != right,
        Op::Contains => left.contains(&right),
        Op::NotContains => !left.contains(&right),
        Op::Gt => ordering() == Some(Greater),
        Op::Gte => matches!(ordering(), Some(Greater | Equal)),
        Op::Lt => ordering() == Some(Less),
        Op::Lte => matches!(ordering(), Some(Less | Equal)),
        Op::Regex => regex.is_some_and(|regex| regex.is_match(&actual)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(json: Value) -> Result<CompiledFilter, Invalid> {
        serde_json::from_value::<Filter>(json).unwrap().compile()
    }

    fn incident() -> Value {
        json!({"severity": "critical", "status": "open", "source": "RMM",
               "attributes": [{"name": "env", "value": "Prod"}, {"name": "cpu", "value": "97"}, {"name": "host", "value": "web-12"}]})
    }

    #[test]
    fn lists_select_severity_status_and_source_and_empty_means_any() {
        assert!(filter(json!({})).unwrap().accepts_incident(&incident()));
        assert!(
            filter(json!({"severities": ["Critical", "warning"], "sources": ["rmm"]}))
                .unwrap()
                .accepts_incident(&incident())
        );
        assert!(
            !filter(json!({"severities": ["warning"]}))
                .unwrap()
                .accepts_incident(&incident())
        );
        assert!(
            !filter(json!({"statuses": ["resolved"]}))
                .unwrap()
                .accepts_incident(&incident())
        );
    }

    #[test]
    fn every_operator() {
        let cases = [
            (json!({"name": "env", "op": "eq", "value": "prod"}), true),
            (json!({"name": "ENV", "op": "ne", "value": "prod"}), false),
            (json!({"name": "missing", "op": "ne", "value": "x"}), true),
            (
                json!({"name": "host", "op": "contains", "value": "WEB"}),
                true,
            ),
            (
                json!({"name": "host", "op": "not_contains", "value": "db"}),
                true,
            ),
            (
                json!({"name": "missing", "op": "not_contains", "value": "db"}),
                true,
            ),
            (json!({"name": "cpu", "op": "gt", "value": 90}), true),
            (json!({"name": "cpu", "op": "gt", "value": "100"}), false),
            (json!({"name": "cpu", "op": "gte", "value": 97}), true),
            (json!({"name": "cpu", "op": "lt", "value": 97.5}), true),
            (json!({"name": "cpu", "op": "lte", "value": 96}), false),
            (json!({"name": "host", "op": "gt", "value": "web-1"}), true),
            (json!({"name": "cpu", "op": "exists"}), true),
            (json!({"name": "missing", "op": "exists"}), false),
            (json!({"name": "missing", "op": "eq", "value": "x"}), false),
            (
                json!({"name": "host", "op": "regex", "value": "^web-\\d+$"}),
                true,
            ),
            (
                json!({"name": "host", "op": "regex", "value": "^db-"}),
                false,
            ),
        ];
        for (condition, expected) in cases {
            let compiled = filter(json!({"attributes": [condition.clone()]})).unwrap();
            assert_eq!(
                compiled.accepts_incident(&incident()),
                expected,
                "{condition}"
            );
        }
    }

    #[test]
    fn all_needs_every_condition_and_any_one() {
        let conditions = json!([{"name": "env", "op": "eq", "value": "prod"}, {"name": "cpu", "op": "lt", "value": 50}]);
        assert!(
            !filter(json!({"attributes": conditions, "match": "all"}))
                .unwrap()
                .accepts_incident(&incident())
        );
        assert!(
            filter(json!({"attributes": conditions, "match": "any"}))
                .unwrap()
                .accepts_incident(&incident())
        );
    }

    #[test]
    fn invalid_filters_name_the_field() {
        let field = |json: Value| filter(json).unwrap_err().field;
        assert_eq!(
            field(json!({"severities": ["fatal"]})),
            "filter.severities[0]"
        );
        assert_eq!(
            field(json!({"statuses": ["open", "closed"]})),
            "filter.statuses[1]"
        );
        assert_eq!(
            field(json!({"attributes": [{"name": "a", "op": "eq"}]})),
            "filter.attributes[0].value"
        );
        assert_eq!(
            field(json!({"attributes": [{"name": " ", "op": "exists"}]})),
            "filter.attributes[0].name"
        );
        assert_eq!(
            field(json!({"attributes": [{"name": "a", "op": "regex", "value": "("}]})),
            "filter.attributes[0].value"
        );
    }
}
