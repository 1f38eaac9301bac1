//! Field-level differences between two JSON documents: nested objects become dotted paths
//! (`a.b`), arrays and scalars are compared as whole values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    /// `null` when the field was added.
    pub old: Value,
    /// `null` when the field was removed.
    pub new: Value,
}

pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    collect("", old, new, &mut changes);
    changes
}

fn collect(path: &str, old: &Value, new: &Value, changes: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => collect_objects(path, old, new, changes),
        _ if old == new => {}
        _ => changes.push(Change {
            field: if path.is_empty() {
                "$".into()
            } else {
                path.to_owned()
            },
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

fn collect_objects(
    path: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    changes: &mut Vec<Change>,
) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    for (key, old_value) in old {
        match new.get(key) {
            Some(new_value) => collect(&join(key), old_value, new_value, changes),
            None => changes.push(Change {
                field: join(key),
                old: old_value.clone(),
                new: Value::Null,
            }),
        }
    }
    for (key, new_value) in new {
        if !old.contains_key(key) {
            changes.push(Change {
                field: join(key),
                old: Value::Null,
                new: new_value.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn nested_objects_give_dotted_paths_and_unchanged_fields_are_absent() {
        let old = json!({"name": "web-1", "hw": {"cpu": 4, "ram": 8}, "same": true});
        let new = json!({"name": "web-1", "hw": {"cpu": 8, "ram": 8}, "same": true});
        let changes = diff(&old, &new);
        assert_eq!(
            changes,
            vec![Change {
                field: "hw.cpu".into(),
                old: json!(4),
                new: json!(8)
            }]
        );
    }

    #[test]
    fn arrays_compare_as_values_and_type_changes_and_removals_show() {
        let old = json!({"tags": ["a", "b"], "port": 80, "gone": 1, "obj": {"x": 1}});
        let new = json!({"tags": ["b", "a"], "port": "80", "added": null, "obj": 5});
        let changes = diff(&old, &new);
        assert_eq!(fields(&changes), ["tags", "port", "gone", "obj", "added"]);
        assert_eq!(changes[2].new, Value::Null);
        assert_eq!(changes[3].old, json!({"x": 1}));
    }
}
