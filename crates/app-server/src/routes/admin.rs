//! User administration, for users whose `is_admin` is set in the database.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use domain::{User, UserFlags, UserId};

use crate::errors::{ApiError, FieldErrors};
use crate::extract::{AdminUser, UserWithBody};
use crate::requests::UserPatch;
use crate::state::AppState;
use crate::views::{UserList, UserView};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// `limit` and `offset` of the list: absent or empty takes the default, and
/// anything but a non-negative whole number is a 400 naming the parameter.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        let mut limit = None;
        let mut offset = None;
        let mut errors = FieldErrors::new();
        for (key, value) in url_pairs(query) {
            let slot = match key.as_str() {
                "limit" => &mut limit,
                "offset" => &mut offset,
                _ => continue,
            };
            let value = value.trim();
            // `?limit=&offset=`, the contract's own spelling, means the defaults
            if value.is_empty() {
                continue;
            }
            match value.parse::<i64>() {
                Ok(n) if n >= 0 => *slot = Some(n),
                Ok(_) => errors
                    .entry(key)
                    .or_default()
                    .push("Ensure this value is greater than or equal to 0.".to_owned()),
                Err(_) => errors
                    .entry(key)
                    .or_default()
                    .push("A valid integer is required.".to_owned()),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::fields(errors));
        }
        Ok(Self {
            limit: limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
            offset: offset.unwrap_or(0),
        })
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// List users by id.
#[utoipa::path(
    get,
    path = "/api/admin/users/",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("limit" = Option<i64>, Query, minimum = 0, description = "Page size, default 50; a larger one is taken as 500"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Users to skip, default 0"),
    ),
    responses(
        (status = 200, description = "A page of users ordered by id", body = UserList),
        (status = 400, description = "A negative or non-numeric limit or offset", body = crate::views::ErrorBody),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::views::ErrorBody),
    )
)]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::from_query(req.query_string())?;
    let (count, users) = state
        .db
        .run(move |conn| User::page(conn, page.limit, page.offset))
        .await?;
    Ok(HttpResponse::Ok().json(UserList {
        count,
        results: users.iter().map(UserView::from).collect(),
    }))
}

/// Activate, deactivate, promote or demote a user. Deactivation ends every
/// session of the user.
#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 400, description = "A flag that is not a boolean", body = crate::views::ErrorBody),
        (status = 401, description = "No, a bad, or a revoked token", body = crate::views::ErrorBody),
        (status = 403, description = "Not an admin", body = crate::views::ErrorBody),
        (status = 404, description = "No such user", body = crate::views::ErrorBody),
    )
)]
pub async fn update_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    UserWithBody { body, .. }: UserWithBody<AdminUser>,
) -> Result<HttpResponse, ApiError> {
    let id = path
        .into_inner()
        .parse::<i64>()
        .map(UserId)
        .map_err(|_| ApiError::NotFound)?;
    let patch = UserPatch::parse(body)?;
    let flags = UserFlags {
        is_active: patch.is_active,
        is_admin: patch.is_admin,
    };
    let authority = state.authority.clone();
    let user = state
        .db
        .run(move |conn| authority.update_flags(conn, id, flags, Utc::now()))
        .await?;
    let user = user.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(q: &str) -> Result<Page, &'static str> {
        Page::from_query(q).map_err(|e| e.code())
    }

    #[test]
    fn defaults_and_clamps() {
        assert_eq!(
            page(""),
            Ok(Page {
                limit: 50,
                offset: 0
            })
        );
        assert_eq!(
            page("limit=10&offset=20"),
            Ok(Page {
                limit: 10,
                offset: 20
            })
        );
        assert_eq!(
            page("limit=100000"),
            Ok(Page {
                limit: 500,
                offset: 0
            })
        );
        assert_eq!(
            page("limit=0"),
            Ok(Page {
                limit: 0,
                offset: 0
            })
        );
        // the contract's own spelling of "no value": the defaults
        assert_eq!(
            page("limit=&offset="),
            Ok(Page {
                limit: 50,
                offset: 0
            })
        );
        assert_eq!(
            page("limit= 7 &offset="),
            Ok(Page {
                limit: 7,
                offset: 0
            })
        );
        assert_eq!(
            page("other=x"),
            Ok(Page {
                limit: 50,
                offset: 0
            })
        );
    }

    #[test]
    fn refuses_negative_and_non_numeric() {
        for q in [
            "limit=-1",
            "offset=-5",
            "limit=abc",
            "offset=1.5",
            "limit=99999999999999999999",
        ] {
            assert_eq!(page(q), Err("invalid"), "{q}");
        }
    }
}
