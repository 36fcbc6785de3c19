//! `Page::from_query` on arbitrary query strings (`?limit=&offset=` of the
//! admin user list).
//!
//! Never panics; a page it accepts has 0 <= limit <= 500 and offset >= 0, and
//! a refusal is a 400 `invalid` naming `limit` or `offset`.

#![no_main]

use actix_web::ResponseError;
use app_server::errors::ApiError;
use app_server::routes::admin::{Page, MAX_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    match Page::from_query(&query) {
        Ok(page) => {
            assert!(
                (0..=MAX_LIMIT).contains(&page.limit),
                "limit {} from {query:?}",
                page.limit
            );
            assert!(page.offset >= 0, "offset {} from {query:?}", page.offset);
        }
        Err(e) => {
            assert_eq!(e.code(), "invalid", "{query:?}");
            assert_eq!(e.status_code().as_u16(), 400, "{query:?}");
            let ApiError::Invalid {
                fields: Some(fields),
                ..
            } = &e
            else {
                panic!("a refusal without fields: {e:?}");
            };
            assert!(!fields.is_empty());
            assert!(
                fields.keys().all(|k| k == "limit" || k == "offset"),
                "fields {fields:?} from {query:?}"
            );
        }
    }
});
