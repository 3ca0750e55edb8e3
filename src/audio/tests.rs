//! The clip set and composed announcements, checked by decoding what was
//! produced.

use std::path::Path;

use super::*;
use crate::config::{EN_TEMPLATE, Lang, Voice, ZH_TEMPLATE};

fn clips() -> Clips {
    Clips::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))).unwrap()
}

fn rms(s: &[f32]) -> f32 {
    (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
}

/// Where `clip` occurs in `out` at or after `from`, to 16-bit precision.
pub(crate) fn find(out: &[f32], clip: &[f32], from: usize) -> Option<usize> {
    let tol = 2.0 / f32::from(i16::MAX);
    (from..=out.len().checked_sub(clip.len())?).find(|&p| clip.iter().zip(&out[p..]).all(|(a, b)| (a - b).abs() <= tol))
}

#[test]
fn every_clip_is_a_plausible_length_and_not_silent() {
    let clips = clips();
    let mut n = 0;
    for (clip, samples) in clips.all() {
        let secs = samples.len() as f32 / RATE as f32;
        assert!((0.1..=3.0).contains(&secs), "{clip:?} lasts {secs:.2} s");
        assert!(rms(samples) > 0.02, "{clip:?} is nearly silent (rms {})", rms(samples));
        assert!(samples.iter().all(|s| s.abs() <= 1.0), "{clip:?} clips");
        n += 1;
    }
    // Chime, 26 letters, 2 × 10 digits, 十 百 两, hundred, 18 English
    // numbers, and the words of both languages.
    assert!(n >= 1 + 26 + 20 + 4 + 18 + 7 + 7, "{n} clips");
}

fn voice(langs: &[Lang], repeat: u32) -> Voice {
    Voice {
        languages: langs
            .iter()
            .map(|l| {
                (
                    *l,
                    match l {
                        Lang::Zh => ZH_TEMPLATE.to_owned(),
                        Lang::En => EN_TEMPLATE.to_owned(),
                    },
                )
            })
            .collect(),
        repeat,
        gap_ms: 80,
        ..Voice::default()
    }
}

#[test]
fn an_announcement_is_its_clips_in_order_with_the_gaps_between() {
    let clips = clips();
    let v = voice(&[Lang::Zh, Lang::En], 2);
    let ticket = "A023".parse().unwrap();
    let pieces = script(&v, ticket, 12, &|l, w| clips.knows(l, w)).unwrap();
    let wav = encode_wav(&compose(&clips, &v, ticket, 12).unwrap());
    let out = decode_wav(wav).unwrap();

    let gap = (RATE * v.gap_ms / 1000) as usize;
    let pause = (RATE * REPEAT_PAUSE_MS / 1000) as usize;
    let expected: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Clip(c) => clips.get(c).unwrap().len(),
            Piece::Gap => gap,
            Piece::Pause => pause,
        })
        .sum();
    assert_eq!(out.len(), expected, "the clips plus the gaps, to the sample");
    assert!(rms(&out) > 0.02, "not silent");

    // Each clip is found, in order, right where the script puts it.
    let mut at = 0;
    for p in &pieces {
        match p {
            Piece::Clip(c) => {
                let samples = clips.get(c).unwrap();
                let found = find(&out, samples, at).unwrap_or_else(|| panic!("{c:?} not found after {at}"));
                assert_eq!(found, at, "{c:?}");
                at += samples.len();
            }
            Piece::Gap => {
                assert!(out[at..at + gap].iter().all(|s| *s == 0.0), "a silent gap at {at}");
                at += gap;
            }
            Piece::Pause => at += pause,
        }
    }
    // The second half repeats the first.
    let half = (out.len() - pause) / 2;
    assert_eq!(out[..half], out[half + pause..]);
}

#[test]
fn two_said_as_liang_when_the_hall_wants_it() {
    let clips = clips();
    let mut v = voice(&[Lang::Zh], 1);
    v.window_two_liang = true;
    let out = compose(&clips, &v, "B002".parse().unwrap(), 2).unwrap();
    let liang = clips.get(&Clip::Liang).unwrap();
    let er = clips.get(&Clip::Digit(Lang::Zh, 2)).unwrap();
    let window_at = find(&out, liang, 0).expect("两号窗口");
    // The ticket's own digit 2 is still 二 (B 零 零 二).
    assert!(find(&out, er, 0).unwrap() < window_at);
}

#[test]
fn a_template_word_without_a_clip_stops_the_start_with_its_name() {
    let clips = clips();
    let mut hall = crate::config::HallConfig {
        spec: crate::engine::tests::config(),
        accounts: Vec::new(),
        directory_groups: Vec::new(),
        voice: crate::config::Voice::default(),
        display: Default::default(),
        outbound: Default::default(),
        printers: Vec::new(),
        id_kinds: crate::config::identity::DEFAULT_KINDS.to_vec(),
        phone_challenge_bits: 0,
        text: std::sync::Arc::from(""),
        version: 0,
    };
    hall.voice.languages = vec![(Lang::Zh, "请 {number} 号 去 {window} 号窗口".into())];
    let err = clips.check(&hall).unwrap_err().to_string();
    assert!(err.contains("去") && err.contains("words.toml"), "{err}");
}
