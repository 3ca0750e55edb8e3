//! A script becomes one sound: its clips copied one after the other, with
//! the voice's gaps and pauses as silence.

use super::clips::Clips;
use super::script::{Piece, script};
use super::{RATE, REPEAT_PAUSE_MS};
use crate::config::Voice;
use crate::engine::{TicketNumber, WindowNo};

fn silence(ms: u32) -> usize {
    (u64::from(RATE) * u64::from(ms) / 1000) as usize
}

/// The announcement of `ticket` to `window`, as mono samples at [`RATE`].
///
/// # Errors
/// A template word or clip is missing (checked at start, so only for a
/// clip set changed under a running server).
pub fn compose(clips: &Clips, voice: &Voice, ticket: TicketNumber, window: WindowNo) -> Result<Vec<f32>, String> {
    let pieces = script(voice, ticket, window, &|c| clips.has(c))?;
    let gap = silence(voice.gap_ms);
    let pause = silence(REPEAT_PAUSE_MS);
    let lang_pause = silence(voice.language_pause_ms);
    let mut len = 0;
    for p in &pieces {
        len += match p {
            Piece::Clip(c) => clips.get(c).map_or(0, <[f32]>::len),
            Piece::Gap => gap,
            Piece::LangPause => lang_pause,
            Piece::Pause => pause,
        };
    }
    let mut out = Vec::with_capacity(len);
    for p in &pieces {
        match p {
            Piece::Clip(c) => out.extend_from_slice(clips.get(c).ok_or_else(|| format!("no clip for {c:?}"))?),
            Piece::Gap => out.resize(out.len() + gap, 0.0),
            Piece::LangPause => out.resize(out.len() + lang_pause, 0.0),
            Piece::Pause => out.resize(out.len() + pause, 0.0),
        }
    }
    Ok(out)
}
