//! bcrypt: hashing time per cost, and the three checks of a login at one cost
//! (right password, wrong password, the dummy check for an unknown user) whose
//! times should match, since the response must not tell them apart.

use std::hint::black_box;
use std::time::Duration;

use auth::{PasswordHasher, SecretString};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

const PASSWORD: &str = "correct horse battery staple";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn hash_per_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("bcrypt hash");
    // one hash at cost 12 is about a quarter of a second: few, flat samples
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500));
    for cost in [4, 8, 10, 12] {
        let hasher = PasswordHasher::new(cost).unwrap();
        let password = secret(PASSWORD);
        group.measurement_time(Duration::from_secs(if cost >= 10 { 4 } else { 2 }));
        group.bench_function(format!("cost {cost}"), |b| {
            b.iter(|| hasher.hash(black_box(&password)).unwrap())
        });
    }
    group.finish();
}

fn login_checks(c: &mut Criterion) {
    const COST: u32 = 10;
    let hasher = PasswordHasher::new(COST).unwrap();
    let hash = hasher.hash(&secret(PASSWORD)).unwrap();
    let (right, wrong) = (secret(PASSWORD), secret("wrong horse battery staple"));
    let mut group = c.benchmark_group(format!("login check, cost {COST}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("verify, right password", |b| {
        b.iter(|| assert!(hasher.verify(black_box(&right), &hash)))
    });
    group.bench_function("verify, wrong password", |b| {
        b.iter(|| assert!(!hasher.verify(black_box(&wrong), &hash)))
    });
    group.bench_function("verify_dummy (unknown user)", |b| {
        b.iter(|| hasher.verify_dummy(black_box(&wrong)))
    });
    group.finish();
}

criterion_group!(benches, hash_per_cost, login_checks);
criterion_main!(benches);
