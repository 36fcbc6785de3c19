//! The OpenAPI 3 document, generated from the handlers' annotations. Its
//! committed copy is docs/openapi.json (`app-server openapi` prints it); the
//! tests below fail when the two differ.

use actix_web::http::Method;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use crate::errors::ApiError;
use crate::requests;
use crate::routes::{account, admin, ops, recovery, sessions, sliding, tokens};
use crate::views;

#[derive(OpenApi)]
#[openapi(
    info(title = "auth service", description = "JWT authentication, compatible with djangorestframework-simplejwt"),
    paths(
        tokens::obtain, tokens::refresh, tokens::verify, tokens::blacklist,
        sliding::obtain_sliding, sliding::refresh_sliding,
        account::register, account::me, account::change_password, account::logout_all,
        admin::list_users, admin::update_user,
        sessions::list_sessions, sessions::end_session,
        sessions::admin_list_sessions, sessions::admin_end_session,
        recovery::password_reset, recovery::password_reset_confirm,
        recovery::verify_email, recovery::resend_email,
        ops::healthz, ops::readyz, ops::jwks, ops::openapi, ops::metrics,
    ),
    components(schemas(
        requests::LoginRequest, requests::RefreshRequest, requests::VerifyRequest,
        requests::SlidingTokenRequest, requests::BlacklistRequest,
        requests::RegisterRequest, requests::PasswordChangeRequest, requests::UserPatch,
        requests::recovery::EmailRequest, requests::recovery::ResetConfirmRequest,
        requests::recovery::VerifyEmailRequest, recovery::Detail,
        views::TokenPairView, views::SlidingTokenView, views::UserView, views::UserList, views::Empty, views::Status, views::ErrorBody,
        views::SessionView, views::BrowserTokensView,
    )),
    modifiers(&BearerScheme, &BodyRefusals, &CsrfRefusals, &LinkFieldNames),
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every route with a JSON body reads it with the same extractor, which
/// answers 413 past the size limit and 415 to another content type: written
/// here once for all of them.
struct BodyRefusals;

impl Modify for BodyRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let refusals = [
            ("413", "`payload_too_large`: a body over 4 KiB"),
            (
                "415",
                "`unsupported_media_type`: a body that is not `application/json`, or none",
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.post, &mut item.put, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                if operation.request_body.is_none() {
                    continue;
                }
                for (status, description) in refusals {
                    add_error_response(operation, status, description);
                }
            }
        }
    }
}

/// Cookie mode's CSRF check (docs/API.md, "Browser apps") refuses with 403
/// the logins of foreign pages, the token routes a cookie feeds, and every
/// protected route that changes something: written here once for all.
struct CsrfRefusals;

const CSRF_REFUSAL: &str =
    "`csrf_failed` (cookie mode): a foreign origin, or no matching `X-CSRF-Token`";

impl Modify for CsrfRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.post, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let fed = matches!(
                    operation.operation_id.as_deref(),
                    Some("obtain" | "refresh" | "blacklist")
                );
                if !(secured || fed) {
                    continue;
                }
                let description = match operation.responses.responses.get("403") {
                    Some(RefOr::T(r)) => format!("{}; {CSRF_REFUSAL}", r.description),
                    _ => CSRF_REFUSAL.to_owned(),
                };
                add_error_response(operation, "403", &description);
            }
        }
    }
}

fn add_error_response(operation: &mut Operation, status: &str, description: &str) {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert(status.to_owned(), RefOr::T(response));
}

/// utoipa 5.5 writes a Link's fields as `operation_id` and `request_body`,
/// names no OpenAPI tool reads (the specification's are `operationId` and
/// `requestBody`): each response's links are written again here, under the
/// specification's names, as the response's one extension field `links`.
struct LinkFieldNames;

impl Modify for LinkFieldNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
        });
        for operation in operations {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if response.links.is_empty() {
                    continue;
                }
                let links: serde_json::Map<String, serde_json::Value> =
                    std::mem::take(&mut response.links)
                        .into_iter()
                        .filter_map(|(name, link)| match link {
                            RefOr::T(link) => Some((name, link_json(link))),
                            RefOr::Ref(_) => None,
                        })
                        .collect();
                response
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert("links".to_owned(), links.into());
            }
        }
    }
}

fn link_json(link: Link) -> serde_json::Value {
    let mut json = serde_json::Map::new();
    if !link.operation_id.is_empty() {
        json.insert("operationId".to_owned(), link.operation_id.into());
    }
    if let Some(body) = link.request_body {
        json.insert("requestBody".to_owned(), body);
    }
    if !link.parameters.is_empty() {
        json.insert(
            "parameters".to_owned(),
            link.parameters.into_iter().collect(),
        );
    }
    if !link.description.is_empty() {
        json.insert("description".to_owned(), link.description.into());
    }
    json.into()
}

/// One of each error the API answers with, for the document's list of codes.
/// A new variant of [`ApiError`] does not compile in `listed` until it is
/// added to both.
fn every_error() -> Vec<ApiError> {
    let all = vec![
        ApiError::Invalid {
            detail: String::new(),
            fields: None,
        },
        ApiError::NotAuthenticated,
        ApiError::BadAuthorizationHeader(""),
        ApiError::TokenNotValid(""),
        ApiError::NoActiveAccount,
        ApiError::EmailNotVerified,
        ApiError::PermissionDenied(""),
        ApiError::CsrfFailed(""),
        ApiError::NotFound,
        ApiError::MethodNotAllowed {
            method: Method::GET,
            allow: Method::POST,
        },
        ApiError::UsernameTaken,
        ApiError::PayloadTooLarge,
        ApiError::UnsupportedMediaType,
        ApiError::Throttled { retry_after: 1 },
        ApiError::Unavailable,
        ApiError::Internal,
    ];
    fn listed(e: &ApiError) {
        match e {
            ApiError::Invalid { .. }
            | ApiError::NotAuthenticated
            | ApiError::BadAuthorizationHeader(_)
            | ApiError::TokenNotValid(_)
            | ApiError::NoActiveAccount
            | ApiError::EmailNotVerified
            | ApiError::PermissionDenied(_)
            | ApiError::CsrfFailed(_)
            | ApiError::NotFound
            | ApiError::MethodNotAllowed { .. }
            | ApiError::UsernameTaken
            | ApiError::PayloadTooLarge
            | ApiError::UnsupportedMediaType
            | ApiError::Throttled { .. }
            | ApiError::Unavailable
            | ApiError::Internal => {}
        }
    }
    all.iter().for_each(listed);
    all
}

/// The `code` of the error envelope: one of the codes [`ApiError`] answers with.
pub fn error_code_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(every_error().iter().map(ApiError::code)))
        .into()
}

/// The document as served, built once, and as `app-server openapi` prints it:
/// pretty-printed with a final newline, so that the committed copy,
/// docs/openapi.json, is that output byte for byte.
pub fn document_json() -> Vec<u8> {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json.into_bytes()
}

#[cfg(test)]
mod tests;
