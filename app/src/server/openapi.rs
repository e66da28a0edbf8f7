//! The OpenAPI 3.1 document, generated from the handlers' own request, response and
//! error types (utoipa), served at `/openapi.json` and committed as `docs/openapi.json`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::{error, http, native, openai, tei};
use crate::ModelId;

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
    doc
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
            .enum_values(Some(ModelId::ALL.map(ModelId::as_str)))
            .description(Some(
                "A model id, also its folder name under embedding.model_dir",
            ))
            .into()
    }
}

impl ToSchema for ModelId {}
