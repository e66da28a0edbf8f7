//! A CRD's structural schema made strict: the API server silently prunes fields a schema
//! does not declare, so a typo in a custom resource vanishes on apply. Here every object
//! that declares its properties refuses any other, unless the schema keeps unknown fields
//! (`x-kubernetes-preserve-unknown-fields`). The Kubernetes extensions that change what a
//! value may be (`nullable`, `x-kubernetes-int-or-string`) become plain JSON Schema.

use serde_json::{Map, Value, json};

/// The strict form of `schema`.
#[must_use]
pub fn strict(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            // Maps from names to schemas.
            "properties" | "patternProperties" | "definitions" => match value {
                Value::Object(props) => {
                    Value::Object(props.iter().map(|(k, v)| (k.clone(), strict(v))).collect())
                }
                other => other.clone(),
            },
            // Lists of schemas.
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
                other => other.clone(),
            },
            // One schema.
            "items" | "additionalProperties" | "not" => strict(value),
            // Go regexp's inline flags (`(?i)`) have no ECMA 262 form, which JSON Schema
            // patterns are; such a pattern is left out rather than misread.
            "pattern" if value.as_str().is_some_and(|p| p.contains("(?")) => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    let keeps_unknown = map
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !keeps_unknown
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if map
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        out.remove("type");
        out.remove("anyOf");
        out.insert(
            "anyOf".into(),
            json!([{ "type": "integer" }, { "type": "string" }]),
        );
    }
    if map
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && let Some(Value::String(t)) = map.get("type")
    {
        out.insert("type".into(), json!([t, "null"]));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_objects_refuse_other_fields_unless_kept() {
        let s = strict(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {}},
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "maybe": {"type": "string", "nullable": true},
                "mode": {"type": "string", "pattern": "^(?i)(abort|warn)?$"}
            }
        }));
        assert!(s["properties"]["mode"].get("pattern").is_none());
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            s["properties"]["spec"]["additionalProperties"],
            json!(false)
        );
        assert!(
            s["properties"]["free"]
                .get("additionalProperties")
                .is_none()
        );
        assert_eq!(s["properties"]["maybe"]["type"], json!(["string", "null"]));
        assert_eq!(
            s["properties"]["port"]["anyOf"],
            json!([{"type": "integer"}, {"type": "string"}])
        );
    }
}
