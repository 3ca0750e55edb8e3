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
        assert!(
            (pack::MIN_SECS..=pack::MAX_SECS).contains(&secs),
            "{clip:?} lasts {secs:.2} s"
        );
        assert!(samples.iter().all(|s| s.abs() <= 1.0), "{clip:?} clips");
        if *clip != Clip::Chime {
            let l = loudness::integrated(samples, RATE).unwrap_or(f64::NEG_INFINITY);
            // One loudness for every clip, a little under where a peak
            // ceiling held a clip back.
            assert!(
                (pack::TARGET_LUFS - 4.0..=pack::TARGET_LUFS + 0.5).contains(&l),
                "{clip:?}: {l:.1} LUFS"
            );
        }
        n += 1;
    }
    // The whole catalogue: every clip a full pack has, and the words.
    assert_eq!(n, catalogue::entries().len() + 7 + 7, "{n} clips");
}

#[test]
fn a_recorded_session_is_cut_back_into_its_clips() {
    // A voice actor's take: the required Mandarin clips, in list order, a
    // pause between each, recorded softly and with hum under it.
    let clips = clips();
    // (Letters are left out: cut from "请 [A]，", each ends in the comma's
    // pause, which a session's cutter rightly drops.)
    let list: Vec<_> = catalogue::entries()
        .into_iter()
        .filter(|e| e.required && e.file.starts_with("zh/") && !matches!(e.clip, Clip::Letter(..)))
        .collect();
    let mut session = vec![0.0f32; RATE as usize / 2];
    for e in &list {
        session.extend(clips.get(&e.clip).unwrap().iter().map(|s| s * 0.3));
        session.extend(std::iter::repeat_n(0.0, RATE as usize * 6 / 10));
    }
    let hum = |i: usize| 0.0001 * (i as f32 * 50.0 * std::f32::consts::TAU / RATE as f32).sin();
    let session: Vec<f32> = session.iter().enumerate().map(|(i, s)| s + hum(i)).collect();
    let cut = pack::cut(&session, list.len(), 350).unwrap();
    for (e, c) in list.iter().zip(&cut) {
        let original = clips.get(&e.clip).unwrap();
        let f = pack::finish(c).unwrap();
        // The cut holds the clip (less its faintest edges, under the
        // cutter's floor) and little else, at the pack's level.
        let extra = c.len() as f32 / original.len() as f32;
        assert!(
            (0.6..1.6).contains(&extra),
            "{}: {extra:.2} of the clip's length",
            e.file
        );
        let l = loudness::integrated(&f.samples, RATE).unwrap();
        assert!(
            (l - pack::TARGET_LUFS).abs() < 1.0 || f.gain_db < 10.5,
            "{}: {l:.1}",
            e.file
        );
    }
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
    let pieces = script(&v, ticket, 12, &|c| clips.has(c)).unwrap();
    let wav = encode_wav(&compose(&clips, &v, ticket, 12).unwrap());
    let out = decode_wav(wav).unwrap();

    let gap = (RATE * v.gap_ms / 1000) as usize;
    let pause = (RATE * REPEAT_PAUSE_MS / 1000) as usize;
    let lang_pause = (RATE * v.language_pause_ms / 1000) as usize;
    let expected: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Clip(c) => clips.get(c).unwrap().len(),
            Piece::Gap => gap,
            Piece::LangPause => lang_pause,
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
            Piece::LangPause => {
                assert!(
                    out[at..at + lang_pause].iter().all(|s| *s == 0.0),
                    "a pause between the languages"
                );
                at += lang_pause;
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
    let er = clips.get(&Clip::TicketDigit(Lang::Zh, 2, Pos::Last)).unwrap();
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
