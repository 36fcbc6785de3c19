//! The cookies: which answers set them, their exact attributes, what a
//! cookie-fed refresh and logout do, and the start-up rules.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use test_support::{backend_tests, TestDb, PASSWORD};

use super::*;

const REFRESH_ATTRIBUTES: &str = "; HttpOnly; SameSite=Strict; Secure; Path=/api/token/; Max-Age=";
const ACCESS_ATTRIBUTES: &str = "; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=";
const CSRF_ATTRIBUTES: &str = "; SameSite=Strict; Secure; Path=/; Max-Age=";

/// `cookie` is `name=<value><attributes><max-age>` with the Max-Age within
/// two seconds under `life`.
#[track_caller]
fn assert_cookie(cookie: &str, name: &str, attributes: &str, life: i64) {
    let (pair, rest) = cookie.split_once("; ").expect("attributes");
    assert!(pair.starts_with(&format!("{name}=")), "{cookie}");
    assert!(pair.len() > name.len() + 1, "a value: {cookie}");
    assert!(
        format!("; {rest}").starts_with(attributes),
        "{cookie} has exactly {attributes}"
    );
    let age = max_age(cookie);
    assert!(
        (life - 2..=life).contains(&age),
        "{cookie}: Max-Age near {life}"
    );
}

fn off_changes_nothing(db: &TestDb) {
    let s = app().db(db).start();
    s.register("off", PASSWORD);
    let (r, _) = page_login(&s, ORIGIN, "off");
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), ["access", "refresh"]);
    assert!(
        set_cookies(&r).is_empty(),
        "no cookie: {:?}",
        set_cookies(&r)
    );
    // A cookie sent anyway is not read.
    let jar = Jar(BTreeMap::from([
        ("__Secure-refresh".to_owned(), r.str("refresh")),
        ("__Host-access".to_owned(), r.str("access")),
        ("csrftoken".to_owned(), "x".to_owned()),
    ]));
    let refresh = page_request(
        &s,
        Method::POST,
        "/api/token/refresh/",
        &jar,
        Some(ORIGIN),
        Some("x"),
        Some(json!({})),
    );
    refresh.assert_field_error("refresh");
    page_request(&s, Method::GET, "/api/me/", &jar, Some(ORIGIN), None, None)
        .assert_error(401, "not_authenticated");
    let r = s.request_with_headers(
        Method::OPTIONS,
        "/api/me/",
        &[("origin", ORIGIN), ("access-control-request-method", "GET")],
        None,
    );
    assert_eq!(r.status, 405, "OPTIONS is no preflight: {}", r.text);
    assert!(r.header("access-control-allow-origin").is_none());
}

fn refresh_mode_sets_the_refresh_and_csrf_cookies(db: &TestDb) {
    let s = cookie_server(db, "refresh", &[]);
    s.register("ann", PASSWORD);
    let (r, jar) = page_login(&s, ORIGIN, "ann");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["access", "expires_in"]);
    let expires_in = r.body["expires_in"].as_i64().expect("a number");
    assert!((298..=300).contains(&expires_in), "{expires_in}");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(set_cookies(&r).len(), 2, "{:?}", set_cookies(&r));
    assert_cookie(
        &set_cookie(&r, "__Secure-refresh"),
        "__Secure-refresh",
        REFRESH_ATTRIBUTES,
        86_400,
    );
    assert_cookie(
        &set_cookie(&r, "csrftoken"),
        "csrftoken",
        CSRF_ATTRIBUTES,
        86_400,
    );
    assert_eq!(jar.csrf().len(), 43);
    assert!(jar
        .csrf()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert!(
        !set_cookies(&r).iter().any(|c| c.contains("Domain")),
        "no Domain"
    );
    // The access token of the body works as a Bearer token.
    assert_eq!(s.get("/api/me/", Some(&r.str("access"))).status, 200);
    // Mode refresh reads no access cookie.
    let access_cookie = Jar(BTreeMap::from([(
        "__Host-access".to_owned(),
        r.str("access"),
    )]));
    page_request(
        &s,
        Method::GET,
        "/api/me/",
        &access_cookie,
        Some(ORIGIN),
        None,
        None,
    )
    .assert_error(401, "not_authenticated");
    // A Referer of the trusted origin counts as its Origin.
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/",
        &[("referer", "https://app.example.com/login?next=/")],
        Some(&json!({"username": "ann", "password": PASSWORD})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), ["access", "expires_in"]);
    // Every login gets a CSRF token of its own.
    let mut second = Jar::default();
    second.take(&r);
    assert_ne!(second.csrf(), jar.csrf());
}

fn sliding_tokens_stay_in_the_body(db: &TestDb) {
    let s = cookie_server(db, "both", &[("AUTH_SLIDING_TOKENS", "on")]);
    s.register("sly", PASSWORD);
    let r = s.request_with_headers(
        Method::POST,
        "/api/token/sliding/",
        &[("origin", ORIGIN)],
        Some(&json!({"username": "sly", "password": PASSWORD})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["token"]);
    assert!(set_cookies(&r).is_empty(), "{:?}", set_cookies(&r));
}

fn both_mode_keeps_the_access_token_in_a_cookie(db: &TestDb) {
    let s = cookie_server(db, "both", &[("AUTH_ACCESS_TOKEN_LIFETIME", "2m")]);
    s.register("bea", PASSWORD);
    let (r, jar) = page_login(&s, ORIGIN, "bea");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["expires_in"], "no token in the body");
    assert_eq!(set_cookies(&r).len(), 3, "{:?}", set_cookies(&r));
    assert_cookie(
        &set_cookie(&r, "__Host-access"),
        "__Host-access",
        ACCESS_ATTRIBUTES,
        120,
    );
    assert_cookie(
        &set_cookie(&r, "__Secure-refresh"),
        "__Secure-refresh",
        REFRESH_ATTRIBUTES,
        86_400,
    );
    // The cookie authenticates reads without a CSRF token...
    let me = page_get(&s, "/api/me/", &jar);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "bea");
    let list = page_get(&s, "/api/sessions/", &jar);
    assert_eq!(list.status, 200);
    assert_eq!(list.body[0]["current"], true);
    // ...and an Authorization header, whatever its scheme, wins over it.
    let cookie = jar.header();
    s.request_with_headers(
        Method::GET,
        "/api/me/",
        &[("cookie", &cookie), ("authorization", "Bearer not.a.token")],
        None,
    )
    .assert_token_not_valid();
    s.request_with_headers(
        Method::GET,
        "/api/me/",
        &[("cookie", &cookie), ("authorization", "Basic dTpw")],
        None,
    )
    .assert_error(401, "not_authenticated");
    // A cookie-fed refresh: new cookies, the same CSRF token.
    let refreshed = page_refresh(&s, &jar);
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(keys(&refreshed.body), ["expires_in"]);
    assert_eq!(set_cookies(&refreshed).len(), 3);
    let mut next = jar.clone();
    next.take(&refreshed);
    assert_eq!(next.csrf(), jar.csrf());
    assert_ne!(next.get("__Secure-refresh"), jar.get("__Secure-refresh"));
    assert_ne!(next.get("__Host-access"), jar.get("__Host-access"));
    assert_eq!(page_get(&s, "/api/me/", &next).status, 200);
}

fn a_server_side_client_gets_the_json_answer(db: &TestDb) {
    let s = cookie_server(db, "both", &[]);
    s.register("srv", PASSWORD);
    let r = s.post(
        "/api/token/",
        json!({"username": "srv", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), ["access", "refresh"]);
    assert!(set_cookies(&r).is_empty());
    // Its body tokens work as ever, with no CSRF token.
    let refreshed = s.post("/api/token/refresh/", json!({"refresh": r.str("refresh")}));
    assert_eq!(keys(&refreshed.body), ["access", "refresh"]);
    assert!(set_cookies(&refreshed).is_empty());
    assert_eq!(
        s.post_auth("/api/logout/all/", &refreshed.str("access"), None)
            .status,
        204
    );
}

fn a_body_token_wins_over_the_cookie(db: &TestDb) {
    let s = cookie_server(db, "refresh", &[]);
    let jar = signed_in(&s, "bod");
    let other = s.post(
        "/api/token/",
        json!({"username": "bod", "password": PASSWORD}),
    );
    // The page's cookies are sent along, but the body names the token.
    let r = page_request(
        &s,
        Method::POST,
        "/api/token/refresh/",
        &jar,
        Some(FOREIGN),
        None,
        Some(json!({"refresh": other.str("refresh")})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), ["access", "refresh"]);
    assert!(set_cookies(&r).is_empty());
    // The page's own session was not touched.
    assert_eq!(page_refresh(&s, &jar).status, 200);
    // No cookie and no body token: the field is required, as ever.
    page_refresh(&s, &jar.without("__Secure-refresh")).assert_field_error("refresh");
}

fn logout_revokes_and_clears_the_cookies(db: &TestDb) {
    let s = cookie_server(db, "both", &[]);
    let jar = signed_in(&s, "out");
    let r = page_logout(&s, &jar);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));
    assert_eq!(
        set_cookies(&r),
        [
            "__Secure-refresh=; HttpOnly; SameSite=Strict; Secure; Path=/api/token/; Max-Age=0",
            "__Host-access=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0",
            "csrftoken=; SameSite=Strict; Secure; Path=/; Max-Age=0",
        ]
    );
    page_refresh(&s, &jar).assert_token_not_valid();
    page_get(&s, "/api/me/", &jar).assert_token_not_valid();
    // A global logout and a password change clear them too.
    let jar = signed_in(&s, "all");
    let r = trusted(&s, Method::POST, "/api/logout/all/", &jar, None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(set_cookies(&r).len(), 3);
    assert!(set_cookies(&r).iter().all(|c| c.ends_with("Max-Age=0")));
    let jar = signed_in(&s, "pwd");
    let r = trusted(
        &s,
        Method::POST,
        "/api/me/password/",
        &jar,
        Some(json!({"old_password": PASSWORD, "new_password": "a brand new passphrase"})),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(set_cookies(&r).iter().all(|c| c.ends_with("Max-Age=0")));
    assert_eq!(set_cookies(&r).len(), 3);
}

fn two_tabs_share_one_refresh_within_the_interval(db: &TestDb) {
    let s = cookie_server(db, "both", &[("AUTH_REFRESH_REUSE_INTERVAL", "10s")]);
    let jar = signed_in(&s, "tabs");
    let first = page_refresh(&s, &jar);
    let second = page_refresh(&s, &jar);
    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{} {}",
        first.text,
        second.text
    );
    assert_eq!(
        set_cookie(&first, "__Secure-refresh").split(';').next(),
        set_cookie(&second, "__Secure-refresh").split(';').next(),
        "the same successor"
    );
    // Logging out with the retired cookie is never taken for a second tab.
    page_logout(&s, &jar).assert_token_not_valid();
    let mut newest = jar.clone();
    newest.take(&second);
    page_refresh(&s, &newest).assert_token_not_valid();
}

fn without_the_interval_a_second_tab_revokes_the_session(db: &TestDb) {
    let s = cookie_server(db, "both", &[]);
    let jar = signed_in(&s, "solo");
    let first = page_refresh(&s, &jar);
    assert_eq!(first.status, 200);
    page_refresh(&s, &jar).assert_token_not_valid();
    let mut newest = jar.clone();
    newest.take(&first);
    page_refresh(&s, &newest).assert_token_not_valid();
}

fn without_rotation_the_refresh_cookie_stays(db: &TestDb) {
    let s = cookie_server(db, "both", &[("AUTH_ROTATE_REFRESH_TOKENS", "false")]);
    let jar = signed_in(&s, "keep");
    for _ in 0..2 {
        let r = page_refresh(&s, &jar);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(keys(&r.body), ["expires_in"]);
        let names: Vec<String> = set_cookies(&r)
            .iter()
            .map(|c| c.split('=').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["__Host-access"], "only the access cookie is new");
    }
}

fn insecure_cookies_in_development_lose_their_prefixes(db: &TestDb) {
    let s = cookie_server(db, "both", &[("AUTH_COOKIE_SECURE", "false")]);
    s.register("dev", PASSWORD);
    let (r, jar) = page_login(&s, ORIGIN, "dev");
    assert_eq!(r.status, 200);
    let refresh = set_cookie(&r, "refresh");
    assert!(
        refresh.contains("; HttpOnly; SameSite=Strict; Path=/api/token/; Max-Age="),
        "{refresh}"
    );
    let access = set_cookie(&r, "access");
    assert!(
        access.contains("; HttpOnly; SameSite=Strict; Path=/; Max-Age="),
        "{access}"
    );
    assert!(
        !set_cookies(&r).iter().any(|c| c.contains("Secure")),
        "{:?}",
        set_cookies(&r)
    );
    assert_eq!(page_get(&s, "/api/me/", &jar).status, 200);
    assert_eq!(page_refresh(&s, &jar).status, 200);
}

fn start_up_refuses_unsafe_settings(db: &TestDb) {
    let secret = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (set, variable) in [
        (
            vec![
                ("AUTH_ENV", "production"),
                ("AUTH_JWT_SECRET", secret),
                ("AUTH_BCRYPT_COST", "10"),
                ("AUTH_COOKIE_SECURE", "false"),
            ],
            "AUTH_COOKIE_SECURE",
        ),
        (
            vec![("AUTH_COOKIE_MODE", "refresh")],
            "AUTH_TRUSTED_ORIGINS",
        ),
        (
            vec![
                ("AUTH_COOKIE_MODE", "both"),
                ("AUTH_TRUSTED_ORIGINS", "https://app.example.com/"),
            ],
            "AUTH_TRUSTED_ORIGINS",
        ),
        (vec![("AUTH_CORS_ORIGINS", "*")], "AUTH_CORS_ORIGINS"),
        (vec![("AUTH_COOKIE_MODE", "yes")], "AUTH_COOKIE_MODE"),
    ] {
        let out = app()
            .db(db)
            .envs(&set)
            .run_until_exit(Duration::from_secs(30))
            .0;
        assert!(!out.status.success(), "{set:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
        assert!(lines[0].contains(variable), "{set:?}: {}", out.stderr);
    }
}

backend_tests!(
    off_changes_nothing,
    refresh_mode_sets_the_refresh_and_csrf_cookies,
    sliding_tokens_stay_in_the_body,
    both_mode_keeps_the_access_token_in_a_cookie,
    a_server_side_client_gets_the_json_answer,
    a_body_token_wins_over_the_cookie,
    logout_revokes_and_clears_the_cookies,
    two_tabs_share_one_refresh_within_the_interval,
    without_the_interval_a_second_tab_revokes_the_session,
    without_rotation_the_refresh_cookie_stays,
    insecure_cookies_in_development_lose_their_prefixes,
    start_up_refuses_unsafe_settings,
);
