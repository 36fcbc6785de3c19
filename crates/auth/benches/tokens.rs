//! Signing and verifying one access token per algorithm, next to raw
//! HMAC-SHA256 of the same signing input: the floor of any HS256 check.
//!
//! `verify` is the full `TokenCodec::decode`: header, key lookup, signature,
//! claims and their time, issuer and type checks.

use std::hint::black_box;
use std::time::Duration;

use auth::{TokenCodec, TokenType};
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[path = "../tests/common/mod.rs"]
mod common;

use common::{claims, codec, ALL_ALGORITHMS, SECRET};

/// A signed access token and the codec that checks it; valid for a day, so
/// that no measurement runs into its expiry.
fn signed(alg: auth::Algorithm) -> (TokenCodec, auth::Claims, String) {
    let codec = codec(alg);
    let mut claims = claims(TokenType::Access);
    claims.exp += 86_400;
    let token = codec.encode(&claims).expect("signing works");
    codec
        .decode(&token, Some(TokenType::Access))
        .expect("the token verifies");
    (codec, claims, token)
}

fn name(alg: auth::Algorithm) -> String {
    serde_json::to_value(alg)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    for alg in ALL_ALGORITHMS {
        let (codec, claims, _) = signed(alg);
        group.bench_function(name(alg), |b| {
            b.iter(|| codec.encode(black_box(&claims)).unwrap())
        });
    }
    group.finish();
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for alg in ALL_ALGORITHMS {
        let (codec, _, token) = signed(alg);
        group.bench_function(name(alg), |b| {
            b.iter(|| {
                codec
                    .decode(black_box(&token), Some(TokenType::Access))
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn raw_hmac(c: &mut Criterion) {
    let (_, _, token) = signed(auth::Algorithm::HS256);
    let signing_input = &token[..token.rfind('.').unwrap()];
    c.bench_function("raw HMAC-SHA256 of the HS256 signing input", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(SECRET)).unwrap();
            mac.update(black_box(signing_input.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = sign, verify, raw_hmac }
criterion_main!(benches);
