//! Voice announcements: "叮咚，请 A023 号到 5 号窗口办理".
//!
//! A call becomes a script of clips (`script`, pure: which clips in which
//! order, from the hall's templates and number-reading rules), the script
//! becomes one sound (`compose`: the clips, decoded with rodio and brought
//! to one rate at start, concatenated with short gaps), and the sound is
//! played through the server's sound card (`device`, behind the
//! `audio-output` feature) and/or fetched as WAV by the hall display page
//! (`wav`). The `announcer` task takes every call and recall from the hub
//! in order and plays them one at a time.

mod announcer;
pub mod catalogue;
mod clips;
mod compose;
#[cfg(feature = "audio-output")]
mod device;
pub mod loudness;
pub mod pack;
mod script;
mod wav;

pub use announcer::{Announcement, Announcer, CallMade, Output, spawn_announcer};
pub use clips::{ClipError, Clips, decode_file};
pub use compose::compose;
#[cfg(feature = "audio-output")]
pub use device::Device;
pub use script::{Clip, Piece, Pos, script};
pub use wav::{decode_wav, encode_wav};

#[cfg(test)]
pub(crate) mod tests;

/// Every clip is brought to this rate, mono, at start; announcements are
/// composed and written at it.
pub const RATE: u32 = 22_050;

/// Silence between repeats of an announcement.
pub const REPEAT_PAUSE_MS: u32 = 700;
