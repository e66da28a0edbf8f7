//! The "a string or a list of strings" input that OpenAI (`input`) and TEI (`inputs`)
//! share, read from plain JSON so every refusal names the field and item in words.

use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// Why an input value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Token ids where text was expected.
    #[error(
        "`{field}` holds token ids; this server embeds text only and tokenizes it with the \
         model's own tokenizer (ids from another tokenizer, such as OpenAI's tiktoken, would \
         mean other words). Send the text itself; with LangChain's OpenAIEmbeddings set \
         `check_embedding_ctx_length=False`"
    )]
    TokenIds {
        /// `input` or `inputs`.
        field: &'static str,
    },
    /// Something else than text.
    #[error("{0}")]
    Shape(String),
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn is_ids(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_number),
        _ => false,
    }
}

/// The texts of `value`: one string, or a list of strings (an empty list stays empty:
/// the service says why that is refused).
///
/// # Errors
/// Token ids, or any other value than text, with the field and item named.
pub fn texts(field: &'static str, value: Value) -> Result<Vec<String>, InputError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => {
            if items.first().is_some_and(is_ids) {
                return Err(InputError::TokenIds { field });
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    other => Err(InputError::Shape(format!(
                        "{field}[{i}] must be a string, got {}",
                        kind(&other)
                    ))),
                })
                .collect()
        }
        other => Err(InputError::Shape(format!(
            "{field} must be a string or a list of strings, got {}",
            kind(&other)
        ))),
    }
}

/// The OpenAPI schema of such an input: a string, or a non-empty list of strings.
#[must_use]
pub fn schema() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("One text")),
        )
        .item(
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .min_items(Some(1))
                .description(Some("Several texts, embedded in this order")),
        )
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_string_or_a_list_and_bad_items_are_named() {
        assert_eq!(texts("input", json!("a")).unwrap(), vec!["a"]);
        assert_eq!(texts("input", json!(["a", "b"])).unwrap(), vec!["a", "b"]);
        assert_eq!(texts("input", json!([])).unwrap(), Vec::<String>::new());
        let err = texts("inputs", json!(["a", null])).unwrap_err();
        assert_eq!(err.to_string(), "inputs[1] must be a string, got null");
        let err = texts("input", json!(3)).unwrap_err();
        assert!(err.to_string().contains("got a number"), "{err}");
    }

    #[test]
    fn token_ids_are_refused_with_what_to_set() {
        for ids in [json!([1, 2, 3]), json!([[101, 7592, 102]])] {
            let err = texts("input", ids).unwrap_err();
            assert_eq!(err, InputError::TokenIds { field: "input" });
            assert!(
                err.to_string().contains("check_embedding_ctx_length=False"),
                "{err}"
            );
        }
    }
}
