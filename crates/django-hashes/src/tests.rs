//! Checked against hashes written by Django's own hashers
//! (tests/django/make_hash_vectors.py), not against our reading of them.

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    format: String,
    password: String,
    encoded: String,
}

fn vectors() -> Vec<Vector> {
    let json = include_str!("../tests/fixtures/django_hashes.json");
    serde_json::from_str::<Vectors>(json).unwrap().vectors
}

fn vectors_of(format: &str) -> Vec<Vector> {
    let found: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.format == format)
        .collect();
    assert!(!found.is_empty(), "no {format} vector in the fixture");
    found
}

fn check_format(name: &str, expected: DjangoFormat) {
    for v in vectors_of(name) {
        assert_eq!(HashKind::of(&v.encoded), HashKind::Django(expected));
        assert!(
            verify(expected, &v.password, &v.encoded),
            "{name}: {}",
            v.password
        );
        let wrong = format!("{}x", v.password);
        assert!(
            !verify(expected, &wrong, &v.encoded),
            "{name}: wrong password"
        );
        assert!(!verify(expected, "", &v.encoded), "{name}: empty password");
    }
}

#[test]
fn pbkdf2_sha256() {
    check_format("pbkdf2_sha256", DjangoFormat::Pbkdf2Sha256);
}

#[test]
fn pbkdf2_sha1() {
    check_format("pbkdf2_sha1", DjangoFormat::Pbkdf2Sha1);
}

#[test]
fn argon2id_and_argon2i() {
    check_format("argon2id", DjangoFormat::Argon2);
    check_format("argon2i", DjangoFormat::Argon2);
    assert!(vectors_of("argon2i")[0]
        .encoded
        .starts_with("argon2$argon2i$"));
}

#[test]
fn bcrypt_sha256() {
    check_format("bcrypt_sha256", DjangoFormat::BcryptSha256);
}

#[test]
fn bcrypt() {
    check_format("bcrypt", DjangoFormat::Bcrypt);
}

#[test]
fn scrypt() {
    check_format("scrypt", DjangoFormat::Scrypt);
}

#[test]
fn legacy_and_unusable_hashes_are_not_verifiable() {
    for v in vectors_of("md5") {
        assert_eq!(HashKind::of(&v.encoded), HashKind::Unsupported);
    }
    for hash in [
        "sha1$salt$0123456789abcdef0123456789abcdef01234567",
        "crypt$$abN0tdBcyXYoo",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        "sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
        "",
    ] {
        assert_eq!(HashKind::of(hash), HashKind::Unsupported, "{hash}");
        assert!(!HashKind::of(hash).is_verifiable());
    }
    let unusable = "!kHXKZ3DBk4MRjxCaGg0xzvO3JDnbhjrqtbn6TRdD";
    assert_eq!(HashKind::of(unusable), HashKind::Unusable);
    // `!` wins even in front of a real hash.
    let pbkdf2 = &vectors_of("pbkdf2_sha256")[0].encoded;
    assert_eq!(HashKind::of(&format!("!{pbkdf2}")), HashKind::Unusable);
}

#[test]
fn malformed_hashes_match_nothing() {
    let pbkdf2 = &vectors_of("pbkdf2_sha256")[0];
    let cases = [
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$"),
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$0$salt$AAAA"),
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$x$salt$AAAA"),
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$4000000000$salt$AAAA"),
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$1$salt$not base64!"),
        (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$1$salt$"),
        (DjangoFormat::Argon2, "argon2$nonsense"),
        (DjangoFormat::Argon2, "argon2$argon2id$v=19$m=4000000000,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        (DjangoFormat::Scrypt, "scrypt$1000$salt$8$1$AAAA"),
        (DjangoFormat::Scrypt, "scrypt$1073741824$salt$8$1$AAAA"),
        (DjangoFormat::Scrypt, "scrypt$16384$salt$8$1"),
        (DjangoFormat::BcryptSha256, "bcrypt_sha256$nonsense"),
        (DjangoFormat::Bcrypt, "bcrypt$$2b$12$short"),
    ];
    for (format, hash) in cases {
        assert!(!verify(format, &pbkdf2.password, hash), "{hash}");
    }
    // The real digest with one more field is malformed too.
    assert!(!verify(
        DjangoFormat::Pbkdf2Sha256,
        &pbkdf2.password,
        &format!("{}$extra", pbkdf2.encoded)
    ));
}
