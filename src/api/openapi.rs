//! The OpenAPI 3 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the `ToSchema` derives of the types they read and write, served at
//! `/api/v1/openapi.json`.

mod exact;

use super::auth;
use super::{error, estimate, events, genomes, history, imports, jobs, meta, replay, sweeps};
use axum::Json;
use axum::http::Method;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SFNN Lab",
        description = "Evolve Structurally Flexible Neural Networks with evolution strategies \
                       and track the experiments. Errors are `{\"error\": {\"code\", \"message\", \
                       \"field\"?}}`. When the server has a token, mutating requests need \
                       `Authorization: Bearer <token>`."
    ),
    paths(
        jobs::submit,
        jobs::list,
        jobs::cancel_matching,
        jobs::get_job,
        jobs::delete_job,
        jobs::update_job,
        jobs::cancel,
        jobs::resume,
        jobs::clone_job,
        jobs::evaluation,
        estimate::estimate,
        sweeps::submit_sweep,
        sweeps::list_sweeps,
        sweeps::get_sweep,
        sweeps::cancel_sweep,
        sweeps::delete_sweep,
        history::export,
        history::chart,
        genomes::job_genomes,
        genomes::upload,
        genomes::meta,
        genomes::download,
        genomes::evaluate,
        imports::open,
        imports::add_generations,
        imports::add_genome,
        imports::finish,
        replay::replay,
        events::job_events,
        events::list_events,
        meta::list_envs,
        meta::list_executors,
        meta::list_examples,
        meta::healthz,
        openapi_json,
    ),
    components(schemas(
        error::ErrorBody,
        crate::evolution::JobSpec,
        crate::evolution::GenerationRecord,
        crate::evolution::evaluation::EvaluationSpec,
        crate::evolution::evaluation::EvaluationResult,
        events::Progress,
    )),
    modifiers(&Extras),
    tags(
        (name = "jobs", description = "Submit, list, cancel, resume, clone, delete"),
        (name = "sweeps", description = "One job per combination of a spec's axes, grouped by variant"),
        (name = "history", description = "Generation records: exports and charts"),
        (name = "genomes", description = "Kept and uploaded genomes"),
        (name = "imports", description = "Runs recorded elsewhere (`sfnn push`), uploaded in pieces"),
        (name = "events", description = "Live Server-Sent Events"),
        (name = "meta", description = "Environments, executors, health, this document"),
    )
)]
pub struct ApiDoc;

/// What the annotations cannot say: the bearer scheme and which operations it guards,
/// `/healthz` also at the root, and the clone body being optional (an `Option` content type
/// would allow `null`, which is refused).
struct Extras;

/// Marks every operation [`auth::is_guarded`] guards with the bearer requirement (or none, for
/// a server without a token) and its 401, as the middleware decides: by method, so declared
/// here once rather than on each operation.
fn guard_mutations(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let unauthorized = ResponseBuilder::new()
        .description("A token is configured and the request lacks it")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    let security = vec![
        SecurityRequirement::default(),
        SecurityRequirement::new("bearer", Vec::<String>::new()),
    ];
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            (Method::POST, item.post.as_mut()),
            (Method::PUT, item.put.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
        ];
        for (_, operation) in operations.into_iter().filter(|(m, _)| auth::is_guarded(m)) {
            if let Some(operation) = operation {
                operation.security = Some(security.clone());
                operation
                    .responses
                    .responses
                    .insert("401".into(), RefOr::T(unauthorized.clone()));
            }
        }
    }
}

impl utoipa::Modify for Extras {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        guard_mutations(openapi);
        if let Some(utoipa::openapi::RefOr::T(body)) = openapi
            .paths
            .paths
            .get_mut("/api/v1/jobs/{id}/clone")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
        {
            body.required = None;
        }
        if let Some(item) = openapi.paths.paths.get("/api/v1/healthz").cloned() {
            let mut root = item;
            if let Some(get) = root.get.as_mut() {
                get.operation_id = Some("healthz_root".into());
            }
            openapi.paths.paths.insert("/healthz".into(), root);
        }
    }
}

/// The document, built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).expect("document serialises");
        exact::apply(&mut document);
        document
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json",
        body = Object)),
)]
pub async fn openapi_json() -> impl IntoResponse {
    Json(document())
}
