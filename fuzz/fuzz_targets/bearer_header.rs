//! `parse_authorization` on arbitrary header bytes (actix hands the raw
//! bytes of the header value over, not necessarily UTF-8).
//!
//! Never panics. The verdict is checked against the contract, read
//! independently: the header splits on ASCII whitespace into a scheme and the
//! credentials; a scheme other than `Bearer` (any case) is no credentials
//! (`not_authenticated`); `Bearer` with anything but exactly one credential of
//! visible ASCII is `bad_authorization_header`; otherwise the token is that
//! credential, non-empty, visible ASCII, with no whitespace.

#![no_main]

use app_server::extract::bearer::parse_authorization;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = parse_authorization(Some(data));

    let words: Vec<&[u8]> = data
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
        .collect();
    let bearer = words
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer"));

    match result {
        Ok(token) => {
            assert!(bearer, "a token from a non-Bearer header: {data:?}");
            assert!(!token.is_empty(), "an empty token from {data:?}");
            assert!(
                token.bytes().all(|b| b.is_ascii_graphic()),
                "token {token:?} is not visible ASCII"
            );
            assert!(
                !token.chars().any(char::is_whitespace),
                "token {token:?} has whitespace"
            );
            assert_eq!(words.len(), 2, "header {data:?} is not `Bearer <token>`");
            assert_eq!(token.as_bytes(), words[1], "token is not the credential");
        }
        Err(e) => {
            let want = if bearer {
                "bad_authorization_header"
            } else {
                "not_authenticated"
            };
            assert_eq!(e.code(), want, "verdict on {data:?}");
            if bearer && words.len() == 2 {
                assert!(
                    !words[1].iter().all(u8::is_ascii_graphic),
                    "refused a well-formed Bearer header {data:?}"
                );
            }
        }
    }
});
