//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::requests;
use crate::routes::{account, admin, ops, recovery, tokens};
use crate::views;

#[derive(OpenApi)]
#[openapi(
    info(title = "auth service", description = "JWT authentication, compatible with djangorestframework-simplejwt"),
    paths(
        tokens::obtain, tokens::refresh, tokens::verify, tokens::blacklist,
        account::register, account::me, account::change_password, account::logout_all,
        admin::list_users, admin::update_user,
        recovery::password_reset, recovery::password_reset_confirm,
        recovery::verify_email, recovery::resend_email,
        ops::healthz, ops::readyz, ops::jwks, ops::openapi, ops::metrics,
    ),
    components(schemas(
        requests::LoginRequest, requests::RefreshRequest, requests::VerifyRequest,
        requests::RegisterRequest, requests::PasswordChangeRequest, requests::UserPatch,
        requests::recovery::EmailRequest, requests::recovery::ResetConfirmRequest,
        requests::recovery::VerifyEmailRequest, recovery::Detail,
        views::TokenPairView, views::UserView, views::UserList, views::Empty, views::Status, views::ErrorBody,
    )),
    modifiers(&BearerScheme),
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

/// The document as served, built once.
pub fn document_json() -> Vec<u8> {
    ApiDoc::openapi()
        .to_json()
        .map(String::into_bytes)
        .unwrap_or_default()
}
