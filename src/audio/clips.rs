//! The clip set under `sounds/`, decoded once at start (rodio) to mono
//! samples at [`RATE`], so composing an announcement is only copying.

use std::collections::{HashMap, HashSet};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rodio::source::UniformSourceIterator;

use super::RATE;
use super::script::{Clip, Piece, script};
use crate::config::{HallConfig, Lang};

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("hall {hall}: {problem}")]
    Voice { hall: String, problem: String },
}

/// Every clip, decoded.
pub struct Clips {
    map: HashMap<Clip, Arc<[f32]>>,
    words: HashMap<Lang, HashSet<String>>,
}

impl std::fmt::Debug for Clips {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clips({} clips)", self.map.len())
    }
}

fn file_err(path: &Path, problem: impl std::fmt::Display) -> ClipError {
    ClipError::File {
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

/// Decodes a sound file to mono samples at [`RATE`].
///
/// # Errors
/// The file cannot be read or decoded, or holds no sound.
pub fn decode_file(path: &Path) -> Result<Vec<f32>, ClipError> {
    let file = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
    let decoder = rodio::Decoder::try_from(file).map_err(|e| file_err(path, e))?;
    let (one, rate) = (NonZero::<u16>::MIN, NonZero::new(RATE).unwrap_or(NonZero::<u32>::MIN));
    let samples: Vec<f32> = UniformSourceIterator::new(decoder, one, rate).collect();
    if samples.is_empty() {
        return Err(file_err(path, "holds no sound"));
    }
    Ok(samples)
}

impl Clips {
    /// Loads the clip set in `dir` (the layout `sounds/make-clips.sh` writes).
    ///
    /// # Errors
    /// A clip is missing or does not decode, or a `words.toml` is malformed.
    pub fn load(dir: &Path) -> Result<Clips, ClipError> {
        let mut map = HashMap::new();
        let mut add = |clip: Clip, rel: String| -> Result<(), ClipError> {
            let samples = decode_file(&dir.join(rel))?;
            map.insert(clip, Arc::from(samples));
            Ok(())
        };
        add(Clip::Chime, "chime.wav".into())?;
        for l in 'A'..='Z' {
            add(Clip::Letter(l), format!("letters/{l}.wav"))?;
        }
        for lang in [Lang::Zh, Lang::En] {
            for d in 0..10u8 {
                add(Clip::Digit(lang, d), format!("{}/digit-{d}.wav", lang.code()))?;
            }
        }
        add(Clip::Ten, "zh/shi.wav".into())?;
        add(Clip::Hundred(Lang::Zh), "zh/bai.wav".into())?;
        add(Clip::Liang, "zh/liang.wav".into())?;
        add(Clip::Hundred(Lang::En), "en/hundred.wav".into())?;
        for n in (10..20).chain((20..=90).step_by(10)) {
            add(Clip::EnNumber(n), format!("en/n-{n}.wav"))?;
        }
        let mut words = HashMap::new();
        for lang in [Lang::Zh, Lang::En] {
            let path = dir.join(lang.code()).join("words.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
            let table: HashMap<String, String> = toml::from_str(&text).map_err(|e| file_err(&path, e))?;
            let mut known = HashSet::new();
            for (word, file) in table {
                let samples = decode_file(&dir.join(lang.code()).join(&file))?;
                map.insert(Clip::Word(lang, word.clone()), Arc::from(samples));
                known.insert(word);
            }
            words.insert(lang, known);
        }
        Ok(Clips { map, words })
    }

    pub fn get(&self, clip: &Clip) -> Option<&[f32]> {
        self.map.get(clip).map(|s| &s[..])
    }

    pub fn knows(&self, lang: Lang, word: &str) -> bool {
        self.words.get(&lang).is_some_and(|w| w.contains(word))
    }

    /// Every clip's name and samples (for checks).
    pub fn all(&self) -> impl Iterator<Item = (&Clip, &[f32])> {
        self.map.iter().map(|(c, s)| (c, &s[..]))
    }

    /// Checks that every call in `hall` can be said: each template word has
    /// a clip (numbers and letters always do).
    ///
    /// # Errors
    /// The first template word without a clip.
    pub fn check(&self, hall: &HallConfig) -> Result<(), ClipError> {
        let any_window = hall.spec.windows.first().map_or(1, |w| w.number);
        let ticket = "A001".parse().map_err(|_| ClipError::Voice {
            hall: hall.spec.id.to_string(),
            problem: "bad sample ticket".into(),
        })?;
        script(&hall.voice, ticket, any_window, &|l, w| self.knows(l, w))
            .map(|_: Vec<Piece>| ())
            .map_err(|problem| ClipError::Voice {
                hall: hall.spec.id.to_string(),
                problem,
            })
    }
}
