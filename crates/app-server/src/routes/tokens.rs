//! The simplejwt-compatible token endpoints (`TokenObtainPairView` and its
//! kin), and the login rules that sliding tokens ([`super::sliding`]) share.

use actix_web::http::header::USER_AGENT;
use actix_web::{web, HttpRequest, HttpResponse};
use auth::{Authority, Checked, LoginClient, Presentation, TokenError, TokenPair, TokenType};
use chrono::Utc;
use domain::{DbConnection, QueryError, User};
use serde_json::Value;

use crate::browser::{csrf, CookieToken};
use crate::config::mail::Verification;
use crate::errors::ApiError;
use crate::extract::{ClientAddr, ProxyRequestId};
use crate::metrics::{LoginOutcome, RefreshOutcome};
use crate::requests::{BlacklistRequest, LoginRequest, RefreshRequest, VerifyRequest};
use crate::routes::{no_store, sliding};
use crate::state::AppState;
use crate::views::{Empty, TokenPairView};

fn tokens_response(pair: TokenPair) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(TokenPairView {
        access: pair.access,
        refresh: pair.refresh,
    })
}

/// The request's `User-Agent`, for the session's record: bytes that are not
/// UTF-8 become U+FFFD, and an empty one is none. The session cuts it to its
/// width.
fn user_agent(req: &HttpRequest) -> Option<String> {
    let agent = req.headers().get(USER_AGENT)?;
    let agent = String::from_utf8_lossy(agent.as_bytes());
    let agent = agent.trim();
    (!agent.is_empty()).then(|| agent.to_owned())
}

/// Obtain a token pair with a username and password.
///
/// With `AUTH_SLIDING_TOKENS=only`, a sliding token instead, as `/api/token/sliding/`.
#[utoipa::path(
    post,
    path = "/api/token/",
    tag = "tokens",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session's tokens; in cookie mode, to a page of a trusted origin, `BrowserTokensView` and the cookies", body = TokenPairView, links(
            ("RefreshTheSession" = (operation_id = "refresh", request_body = json!({"refresh": "$response.body#/refresh"}))),
            ("VerifyTheAccessToken" = (operation_id = "verify", request_body = json!({"token": "$response.body#/access"}))),
            ("VerifyTheRefreshToken" = (operation_id = "verify", request_body = json!({"token": "$response.body#/refresh"}))),
            ("LogOut" = (operation_id = "blacklist", request_body = json!({"refresh": "$response.body#/refresh"}))),
        )),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`no_active_account`: wrong password, unknown or inactive user; `email_not_verified`: the right password, while verification is mandatory and the address is not proven", body = crate::views::ErrorBody),
        (status = 429, description = "`throttled`, with Retry-After", body = crate::views::ErrorBody),
    )
)]
pub async fn obtain(
    state: web::Data<AppState>,
    client: ClientAddr,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let credentials = LoginRequest::parse(body.into_inner())?;
    if sliding::only(&state) {
        return sliding::login(&state, client, &req, credentials).await;
    }
    // Before the password is looked at: a foreign page's login changes nothing.
    let sets_cookies = state.browser.login_sets_cookies(&req)?;
    let verified = check_credentials(&state, client, &req, credentials).await?;
    let now = Utc::now();
    let authority = state.authority.clone();
    let pair = state
        .db
        .run(move |conn| {
            verified.store_upgrade(conn)?;
            authority.login_from(conn, &verified.user, &verified.client, now)
        })
        .await?;
    state.metrics.login(LoginOutcome::Success);
    if sets_cookies {
        return Ok(state.browser.tokens_response(&pair, &csrf::new_token()?));
    }
    Ok(tokens_response(pair))
}

/// A user whose password was right, with the bcrypt hash that replaces a
/// Django one (see [`Verified::store_upgrade`]) and what the session records
/// of the client.
pub(super) struct Verified {
    pub user: User,
    upgrade: Option<String>,
    pub client: LoginClient,
}

impl Verified {
    /// A Django hash gives way to bcrypt, in the login's own transaction:
    /// the next login checks bcrypt.
    pub fn store_upgrade(&self, conn: &mut DbConnection) -> Result<(), QueryError> {
        if let Some(upgrade) = &self.upgrade {
            User::upgrade_password_hash(conn, self.user.id, &self.user.password_hash, upgrade)?;
        }
        Ok(())
    }
}

/// The login rules every way of obtaining tokens shares: throttling, bcrypt
/// on the hashing pool (with a dummy hash for unknown and inactive users, so
/// every failure costs the same), the failure counted, and mandatory e-mail
/// verification. The user whose password was right, or the error to answer.
pub(super) async fn check_credentials(
    state: &AppState,
    client: ClientAddr,
    req: &HttpRequest,
    LoginRequest { username, password }: LoginRequest,
) -> Result<Verified, ApiError> {
    let now = Utc::now();
    let address = client.0.map(|ip| ip.to_string());
    let throttle = state.throttle.clone();
    let (lookup_name, lookup_address) = (username.clone(), address.clone());
    let user = state
        .db
        .run(move |conn| -> Result<Option<User>, ApiError> {
            if let Err(t) = throttle.check(conn, &lookup_name, lookup_address.as_deref(), now)? {
                return Err(ApiError::Throttled {
                    retry_after: t.retry_after_secs,
                });
            }
            Ok(User::find_by_username(conn, &lookup_name)?)
        })
        .await
        .inspect_err(|e| {
            if matches!(e, ApiError::Throttled { .. }) {
                state.metrics.login(LoginOutcome::Throttled);
            }
        })?;

    // The connection is back in the pool while bcrypt runs.
    let checked = match user {
        Some(user) if user.is_active => {
            let hash = user.password_hash.clone();
            match state.hashing.check(password, hash).await? {
                Checked::Right { upgrade } => Some((user, upgrade)),
                Checked::Wrong => None,
            }
        }
        _ => {
            state.hashing.verify_dummy(password).await?;
            None
        }
    };
    let Some((user, upgrade)) = checked else {
        let throttle = state.throttle.clone();
        state
            .db
            .run(move |conn| throttle.record_failure(conn, &username, address.as_deref(), now))
            .await?;
        state.metrics.login(LoginOutcome::InvalidCredentials);
        return Err(ApiError::NoActiveAccount);
    };
    // Only now, with the password checked: the answer tells nothing to
    // someone without it. Not a failure: the password was right.
    if state.mail.verification == Verification::Mandatory && !user.email_verified {
        state.metrics.login(LoginOutcome::EmailNotVerified);
        return Err(ApiError::EmailNotVerified);
    }
    let client = LoginClient {
        user_agent: user_agent(req),
        ip: address,
    };
    Ok(Verified {
        user,
        upgrade,
        client,
    })
}

/// Trade a refresh token for a new access token and a rotated refresh token.
///
/// With `AUTH_SLIDING_TOKENS=only`, a sliding token's refresh instead, as
/// `/api/token/sliding/refresh/`.
#[utoipa::path(
    post,
    path = "/api/token/refresh/",
    tag = "tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; `refresh` only when rotation is on; in cookie mode, for a token from its cookie, `BrowserTokensView` and the cookies", body = TokenPairView, links(
            ("RefreshAgain" = (operation_id = "refresh", request_body = json!({"refresh": "$response.body#/refresh"}))),
            ("ReuseTheRetiredToken" = (operation_id = "refresh", request_body = json!({"refresh": "$request.body#/refresh"}))),
            ("LogOut" = (operation_id = "blacklist", request_body = json!({"refresh": "$response.body#/refresh"}))),
        )),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`token_not_valid`; a retired token also revokes its session", body = crate::views::ErrorBody),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    request_id: ProxyRequestId,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    if sliding::only(&state) {
        return sliding::refresh_token(&state, body.into_inner()).await;
    }
    let body = body.into_inner();
    let (token, csrf) = match state.browser.refresh_cookie(&req, &body, &["refresh"])? {
        Some(CookieToken { token, csrf }) => (token, Some(csrf)),
        None => (RefreshRequest::parse(body)?.refresh, None),
    };
    let result = run_token_op(&state, move |a, conn| {
        let presentation = Presentation {
            token: &token,
            request_id: request_id.0.as_deref(),
        };
        a.refresh(conn, presentation, Utc::now())
    })
    .await?;
    match result {
        Ok(pair) => {
            state.metrics.refresh(RefreshOutcome::Success);
            Ok(match csrf {
                Some(csrf) => state.browser.tokens_response(&pair, &csrf),
                None => tokens_response(pair),
            })
        }
        Err(e) => {
            state.metrics.refresh(refresh_outcome(&e));
            Err(e.into())
        }
    }
}

/// Run a session-rule operation on a connection, keeping its token errors
/// apart from database errors so that the handler can count them first.
pub(super) async fn run_token_op<T, F>(
    state: &AppState,
    mut op: F,
) -> Result<Result<T, TokenError>, ApiError>
where
    F: FnMut(&Authority, &mut DbConnection) -> Result<T, TokenError> + Send + 'static,
    T: Send + 'static,
{
    let authority = state.authority.clone();
    state
        .db
        .run(move |conn| Ok::<_, ApiError>(op(&authority, conn)))
        .await
}

pub(super) fn refresh_outcome(e: &TokenError) -> RefreshOutcome {
    match e {
        TokenError::Reused => RefreshOutcome::Reuse,
        _ => RefreshOutcome::Invalid,
    }
}

/// Check a token: any valid type; a refresh token must be live.
#[utoipa::path(
    post,
    path = "/api/token/verify/",
    tag = "tokens",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The token is valid", body = Empty),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`token_not_valid`", body = crate::views::ErrorBody),
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let token = VerifyRequest::parse(body.into_inner())?.token;
    let claims = state.authority.decode_any(&token)?;
    // Access tokens are checked statelessly. A refresh token must be live; a
    // sliding token's session too, as simplejwt's verify refuses a
    // blacklisted sliding token.
    let authority = state.authority.clone();
    match claims.token_type {
        TokenType::Access => {}
        TokenType::Refresh => {
            state
                .db
                .run(move |conn| authority.check_refresh_live(conn, &claims, Utc::now()))
                .await?;
        }
        TokenType::Sliding => {
            state
                .db
                .run(move |conn| authority.authenticate(conn, &claims, Utc::now()))
                .await?;
        }
    }
    Ok(HttpResponse::Ok().json(Empty {}))
}

/// Log out: revoke the session of a refresh token (`{"refresh"}`) or of a
/// sliding token (`{"token"}`).
#[utoipa::path(
    post,
    path = "/api/token/blacklist/",
    tag = "tokens",
    request_body = BlacklistRequest,
    responses(
        (status = 200, description = "The session is revoked (in cookie mode the cookies are cleared)", body = Empty),
        (status = 400, description = "Malformed body", body = crate::views::ErrorBody),
        (status = 401, description = "`token_not_valid`", body = crate::views::ErrorBody),
    )
)]
pub async fn blacklist(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = match state
        .browser
        .refresh_cookie(&req, &body, &["refresh", "token"])?
    {
        Some(cookie) => BlacklistRequest::Refresh(RefreshRequest {
            refresh: cookie.token,
        }),
        None => BlacklistRequest::parse(body)?,
    };
    let result = run_token_op(&state, move |a, conn| match &request {
        BlacklistRequest::Refresh(r) => a.blacklist(conn, &r.refresh, Utc::now()),
        BlacklistRequest::Sliding(s) => a.blacklist_sliding(conn, &s.token, Utc::now()),
    })
    .await?;
    if let Err(e) = result {
        if matches!(e, TokenError::Reused) {
            state.metrics.refresh(RefreshOutcome::Reuse);
        }
        return Err(e.into());
    }
    let mut response = HttpResponse::Ok();
    state.browser.clear_cookies(&mut response);
    Ok(response.json(Empty {}))
}
