//! The JSON schema of environment files, for editors (`yaml-language-server`) and review.

use schemars::generate::SchemaSettings;

use crate::settings::Environment;

/// The schema as pretty JSON with a trailing newline. Draft-07, which every YAML
/// language server understands.
#[must_use]
pub fn environment_schema() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Environment>();
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|e| unreachable!("a schema is plain JSON: {e}"));
    text.push('\n');
    text
}
