//! Making a voice pack: a recorded session cut into clips at its silences,
//! and every clip finished the same way (brought to one loudness, trimmed,
//! checked) whether a voice actor, a speech service or the shipped maker
//! produced it. The `hallcall-voice` command runs these.

use super::RATE;
use super::loudness::integrated;

/// The loudness every clip is brought to (LUFS).
pub const TARGET_LUFS: f64 = -20.0;
/// No sample above this after the gain (-1 dBFS).
const PEAK_CEILING: f32 = 0.89;
/// A clip shorter or longer than this is not a clip of one word or phrase.
pub const MIN_SECS: f32 = 0.05;
pub const MAX_SECS: f32 = 3.0;

/// Why a clip is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClipProblem {
    #[error("silent (no sound above -70 LUFS)")]
    Silent,
    #[error("too quiet to use ({0:.1} LUFS; record nearer the microphone)")]
    TooQuiet(f64),
    #[error("{0:.2} s long: a clip lasts {MIN_SECS} to {MAX_SECS} s")]
    Length(f32),
    #[error("clipped: {0} samples at full scale (record with less gain)")]
    Clipped(usize),
}

/// A finished clip and what was done to it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub samples: Vec<f32>,
    /// Loudness as recorded.
    pub lufs: f64,
    /// Gain applied, in dB.
    pub gain_db: f64,
}

/// Brings a clip (mono, at [`RATE`]) to [`TARGET_LUFS`], lowered where its
/// peak would pass -1 dBFS, after checking it is a usable clip.
///
/// # Errors
/// Silent, too quiet, too short or long, or clipped.
pub fn finish(samples: &[f32]) -> Result<Finished, ClipProblem> {
    let secs = samples.len() as f32 / RATE as f32;
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return Err(ClipProblem::Length(secs));
    }
    let clipped = samples.iter().filter(|s| s.abs() >= 0.999).count();
    if clipped > 2 {
        return Err(ClipProblem::Clipped(clipped));
    }
    let lufs = integrated(samples, RATE).ok_or(ClipProblem::Silent)?;
    if lufs < -50.0 {
        return Err(ClipProblem::TooQuiet(lufs));
    }
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let mut gain = 10f64.powf((TARGET_LUFS - lufs) / 20.0) as f32;
    if peak * gain > PEAK_CEILING {
        gain = PEAK_CEILING / peak;
    }
    Ok(Finished {
        samples: samples.iter().map(|s| s * gain).collect(),
        lufs,
        gain_db: 20.0 * f64::from(gain).log10(),
    })
}

/// Where a recorded session's sounds are: the start and end sample of each
/// stretch of sound separated from the next by at least `min_silence_ms`
/// of silence (40 dB under the session's loudest 10 ms).
pub fn sounds(samples: &[f32], min_silence_ms: u32) -> Vec<(usize, usize)> {
    let frame = (RATE / 100) as usize;
    let energy: Vec<f32> = samples
        .chunks(frame)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let loudest = energy.iter().copied().fold(0f32, f32::max);
    if loudest == 0.0 {
        return Vec::new();
    }
    let floor = loudest * 0.01;
    let min_gap = (min_silence_ms / 10).max(1) as usize;
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    let mut quiet = 0;
    for (i, e) in energy.iter().enumerate() {
        if *e > floor {
            if start.is_none() {
                start = Some(i);
            }
            quiet = 0;
        } else if let Some(s) = start {
            quiet += 1;
            if quiet >= min_gap {
                out.push((s, i + 1 - quiet));
                start = None;
            }
        }
    }
    if let Some(s) = start {
        out.push((s, energy.len() - quiet));
    }
    // A click or breath shorter than 60 ms is not a clip.
    out.retain(|(s, e)| e - s >= 6);
    // 20 ms of the silence kept at each end, so no consonant is clipped.
    let pad = 2;
    out.iter()
        .map(|&(s, e)| (s.saturating_sub(pad) * frame, ((e + pad) * frame).min(samples.len())))
        .collect()
}

/// Cuts a session into `expected` clips at its silences.
///
/// # Errors
/// The session holds another number of sounds: the error lists where each
/// one is, so the take to redo can be found.
pub fn cut(samples: &[f32], expected: usize, min_silence_ms: u32) -> Result<Vec<Vec<f32>>, String> {
    let found = sounds(samples, min_silence_ms);
    if found.len() != expected {
        let at: Vec<String> = found
            .iter()
            .map(|(s, e)| format!("{:.2}–{:.2} s", *s as f32 / RATE as f32, *e as f32 / RATE as f32))
            .collect();
        return Err(format!(
            "the session has {} sounds where {expected} clips were expected (a pause of at least {min_silence_ms} ms between clips; none inside one): {}",
            found.len(),
            at.join(", ")
        ));
    }
    Ok(found.into_iter().map(|(s, e)| samples[s..e].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs: f32, amp: f32) -> Vec<f32> {
        (0..(secs * RATE as f32) as usize)
            .map(|i| amp * (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin())
            .collect()
    }

    fn quiet(secs: f32) -> Vec<f32> {
        vec![0.0; (secs * RATE as f32) as usize]
    }

    #[test]
    fn clips_are_brought_to_one_loudness() {
        let soft = finish(&tone(0.5, 0.05)).unwrap();
        let loud = finish(&tone(0.5, 0.5)).unwrap();
        for f in [&soft, &loud] {
            let l = integrated(&f.samples, RATE).unwrap();
            assert!((l - TARGET_LUFS).abs() < 0.1, "{l}");
        }
        assert!(soft.gain_db > loud.gain_db + 19.0);
    }

    #[test]
    fn bad_clips_are_refused_with_the_reason() {
        assert_eq!(finish(&quiet(0.5)).unwrap_err(), ClipProblem::Silent);
        assert!(matches!(finish(&tone(0.5, 0.001)), Err(ClipProblem::TooQuiet(_))));
        assert!(matches!(finish(&tone(0.03, 0.5)), Err(ClipProblem::Length(_))));
        assert!(matches!(finish(&tone(4.0, 0.5)), Err(ClipProblem::Length(_))));
        let clipped: Vec<f32> = tone(0.5, 2.0).into_iter().map(|s| s.clamp(-1.0, 1.0)).collect();
        assert!(matches!(finish(&clipped), Err(ClipProblem::Clipped(_))));
    }

    #[test]
    fn a_session_is_cut_at_its_pauses() {
        let mut session = quiet(0.5);
        let lens = [0.3, 0.8, 0.15];
        for l in lens {
            session.extend(tone(l, 0.3));
            session.extend(quiet(0.6));
        }
        let clips = cut(&session, 3, 300).unwrap();
        for (c, l) in clips.iter().zip(lens) {
            let secs = c.len() as f32 / RATE as f32;
            assert!((secs - l).abs() < 0.06, "{secs} for {l}");
        }
        let err = cut(&session, 4, 300).unwrap_err();
        assert!(err.contains("3 sounds where 4"), "{err}");
        // A pause shorter than asked for does not split a clip.
        let mut two_words = tone(0.3, 0.3);
        two_words.extend(quiet(0.1));
        two_words.extend(tone(0.3, 0.3));
        two_words.extend(quiet(0.5));
        assert_eq!(cut(&two_words, 1, 300).unwrap().len(), 1);
    }
}
