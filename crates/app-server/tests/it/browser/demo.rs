//! The demo page of web/demo/, served by the app in development only.

use test_support::TestDb;

use crate::app;

#[test]
fn development_serves_the_demo_page_and_production_does_not() {
    let db = TestDb::sqlite();
    let s = app().db(&db).start();
    for (path, content_type, text) in [
        ("/demo/", "text/html; charset=utf-8", "demo.js"),
        ("/demo", "text/html; charset=utf-8", "demo.js"),
        ("/demo/index.html", "text/html; charset=utf-8", "demo.css"),
        (
            "/demo/demo.js",
            "text/javascript; charset=utf-8",
            "X-CSRF-Token",
        ),
        ("/demo/demo.css", "text/css; charset=utf-8", "{"),
    ] {
        let r = s.get(path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some(content_type),
            "{path}"
        );
        assert!(r.text.contains(text), "{path}");
        let csp = r.header("content-security-policy").expect("a CSP");
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(r.header("referrer-policy").as_deref(), Some("same-origin"));
    }
    s.get("/demo/../Cargo.toml", None)
        .assert_error(404, "not_found");
    s.get("/demo/other.js", None).assert_error(404, "not_found");

    let production = app()
        .db(&db)
        .envs(&[
            ("AUTH_ENV", "production"),
            ("AUTH_JWT_SECRET", "0123456789abcdefghijklmnopqrstuvwxyz"),
            ("AUTH_BCRYPT_COST", "10"),
        ])
        .start();
    production
        .get("/demo/", None)
        .assert_error(404, "not_found");
}
