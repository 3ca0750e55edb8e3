//! Composing announcements: one call (Mandarin, said twice; and Mandarin
//! then English, twice) and a burst of 100 calls, from the clips in
//! `sounds/` decoded in memory. Encoding to WAV (what the HTTP endpoint
//! adds) is measured beside it.
//!
//! Run: `cargo bench --bench voice`. Figures and method: BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use hallcall::audio::{Clips, compose, encode_wav};
use hallcall::config::{EN_TEMPLATE, Lang, Voice, ZH_TEMPLATE};

fn voices() -> [(&'static str, Voice); 2] {
    let zh = Voice {
        languages: vec![(Lang::Zh, ZH_TEMPLATE.into())],
        repeat: 2,
        ..Voice::default()
    };
    let both = Voice {
        languages: vec![(Lang::Zh, ZH_TEMPLATE.into()), (Lang::En, EN_TEMPLATE.into())],
        repeat: 2,
        ..Voice::default()
    };
    [("zh", zh), ("zh+en", both)]
}

fn bench(c: &mut Criterion) {
    let clips = Clips::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))).expect("clips");
    let ticket = "A023".parse().unwrap();
    for (name, voice) in voices() {
        let samples = compose(&clips, &voice, ticket, 12).unwrap();
        eprintln!(
            "{name}: {:.1} s of sound",
            samples.len() as f64 / f64::from(hallcall::audio::RATE)
        );
    }
    for (name, voice) in voices() {
        c.bench_function(&format!("compose one call ({name}, twice)"), |b| {
            b.iter(|| compose(&clips, black_box(&voice), black_box(ticket), black_box(12)).unwrap())
        });
        c.bench_function(&format!("compose and encode WAV ({name}, twice)"), |b| {
            b.iter(|| encode_wav(&compose(&clips, black_box(&voice), black_box(ticket), black_box(12)).unwrap()))
        });
    }
    let voice = &voices()[1].1;
    c.bench_function("a burst of 100 calls (zh+en, twice)", |b| {
        b.iter(|| {
            for i in 1..=100u32 {
                let t = format!("A{i:03}").parse().unwrap();
                black_box(compose(&clips, voice, t, (i % 29 + 1) as u16).unwrap());
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
