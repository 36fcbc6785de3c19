//! Signing and verifying one access token per algorithm, next to raw
//! HMAC-SHA256 of the same signing input: the floor of any HS256 check.
//!
//! `verify` is the full `TokenCodec::decode` under the contract's default
//! settings: header, key lookup, signature, claims with their time checks
//! (`exp`, `nbf`), the UTF-8 check and the type check. No issuer or audience
//! is configured by default, so their checks are not part of the measurement.

use std::hint::black_box;
use std::time::Duration;

use auth::TokenType;
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use test_support::codecs::{signed, Signed, ALL_ALGORITHMS};
use test_support::SECRET;

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
        let Signed { codec, claims, .. } = signed(alg);
        group.bench_function(name(alg), |b| {
            b.iter(|| codec.encode(black_box(&claims)).unwrap())
        });
    }
    group.finish();
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for alg in ALL_ALGORITHMS {
        let Signed { codec, token, .. } = signed(alg);
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
    let Signed { token, .. } = signed(auth::Algorithm::HS256);
    let signing_input = &token[..token.rfind('.').unwrap()];
    c.bench_function("raw HMAC-SHA256 of the HS256 signing input", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(SECRET.as_bytes())).unwrap();
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
