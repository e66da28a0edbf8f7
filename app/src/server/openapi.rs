//! The OpenAPI 3.1 document, generated from the handlers' own request, response and
//! error types (utoipa), served at `/openapi.json` and committed as `docs/openapi.json`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::{error, http, native, openai, tei};
use crate::{ModelId, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "akidb-embed",
        description = "Sentence embeddings over HTTP: a native API, OpenAI's embeddings and \
                       models API, and text-embeddings-inference's. See docs/api.md.",
        license(name = "Apache-2.0")
    ),
    paths(
        native::embed,
        openai::embeddings,
        openai::models,
        openai::model,
        tei::embed,
        tei::root,
        tei::tokenize,
        http::live,
        http::startup,
        http::ready,
        http::info,
    ),
    components(schemas(error::ErrorBody, openai::OpenAiErrorBody, tei::TeiErrorBody)),
    tags(
        (name = "native", description = "This server's own API"),
        (name = "openai", description = "OpenAI-compatible"),
        (name = "tei", description = "text-embeddings-inference-compatible"),
        (name = "health", description = "Probes and facts about the server"),
    )
)]
struct ApiDoc;

/// The document.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    add_api_key_security(&mut doc);
    doc
}

/// Name of the bearer-key scheme in `components.securitySchemes`.
const API_KEY_SCHEME: &str = "api_key";

/// Every route but [`routes::OPEN`] takes the API key when `auth.required` is on, and
/// none when it is off (the default), so both requirements are listed; each such route
/// may answer 401, in the native error body unless it already documents one.
fn add_api_key_security(doc: &mut utoipa::openapi::OpenApi) {
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    let unauthorized = error_responses::<error::ErrorBody>([StatusCode::UNAUTHORIZED]);
    for (path, item) in &mut doc.paths.paths {
        if routes::OPEN.contains(&path.as_str()) {
            continue;
        }
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            op.security = Some(vec![
                SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new()),
                SecurityRequirement::default(),
            ]);
            for (status, response) in &unauthorized {
                op.responses
                    .responses
                    .entry(status.clone())
                    .or_insert_with(|| response.clone());
            }
        }
    }
}

/// The document as pretty JSON with a final newline, as committed.
#[must_use]
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| unreachable!("the OpenAPI document always serializes: {e}"));
    text.push('\n');
    text
}

/// One JSON response per distinct status, each with the error body `T`.
pub fn error_responses<T: ToSchema>(
    statuses: impl IntoIterator<Item = StatusCode>,
) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .into_iter()
        .map(|status| {
            let response = ResponseBuilder::new()
                .description(status.canonical_reason().unwrap_or("error"))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(T::name())))
                        .build(),
                )
                .build();
            (status.as_u16().to_string(), response.into())
        })
        .collect()
}

impl PartialSchema for ModelId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(crate::models::ID_PATTERN))
            .max_length(Some(crate::models::MAX_ID_LEN))
            .examples([serde_json::json!(crate::KnownModel::AllMiniLmL6V2.as_str())])
            .description(Some(
                "A model id: its folder name under embedding.model_dir",
            ))
            .into()
    }
}

impl ToSchema for ModelId {}
