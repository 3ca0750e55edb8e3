//! A voice pack under `sounds/`, decoded once at start (rodio) to mono
//! samples at [`RATE`], so composing an announcement is only copying.

use std::collections::{HashMap, HashSet};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rodio::source::UniformSourceIterator;

use super::RATE;
use super::catalogue::{entries, fallback_file};
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
    /// Loads the pack in `dir`: every clip of the catalogue (`sounds/README.md`)
    /// that is there, older names where a clip is not, and the words of each
    /// language's `words.toml`.
    ///
    /// # Errors
    /// A required clip is missing, a clip does not decode, or a
    /// `words.toml` is malformed.
    pub fn load(dir: &Path) -> Result<Clips, ClipError> {
        let mut map = HashMap::new();
        // Clips shared by name (a fallback used for many) are decoded once.
        let mut decoded: HashMap<String, Arc<[f32]>> = HashMap::new();
        let mut open = |rel: &str| -> Result<Option<Arc<[f32]>>, ClipError> {
            if let Some(s) = decoded.get(rel) {
                return Ok(Some(s.clone()));
            }
            let path = dir.join(rel);
            if !path.exists() {
                return Ok(None);
            }
            let s: Arc<[f32]> = Arc::from(decode_file(&path)?);
            decoded.insert(rel.to_owned(), s.clone());
            Ok(Some(s))
        };
        for e in entries() {
            let mut found = open(&e.file)?;
            let mut tried = e.file.clone();
            if found.is_none()
                && let Some(old) = fallback_file(&e.clip)
            {
                found = open(&old)?;
                tried = format!("{} or {old}", e.file);
            }
            match found {
                Some(s) => {
                    map.insert(e.clip, s);
                }
                None if e.required => {
                    return Err(file_err(&dir.join(&e.file), format!("missing (looked for {tried})")));
                }
                None => {}
            }
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

    /// Whether the pack has `clip`.
    pub fn has(&self, clip: &Clip) -> bool {
        match clip {
            Clip::Word(lang, w) => self.words.get(lang).is_some_and(|ws| ws.contains(w)),
            _ => self.map.contains_key(clip),
        }
    }

    /// Every clip's name and samples (for checks).
    pub fn all(&self) -> impl Iterator<Item = (&Clip, &[f32])> {
        self.map.iter().map(|(c, s)| (c, &s[..]))
    }

    /// Checks that every call in `hall` can be said: each template word,
    /// and each word a prefix is said with, has a clip (numbers and letters
    /// always do).
    ///
    /// # Errors
    /// The first word without a clip.
    pub fn check(&self, hall: &HallConfig) -> Result<(), ClipError> {
        let any_window = hall.spec.windows.first().map_or(1, |w| w.number);
        let err = |problem: String| ClipError::Voice {
            hall: hall.spec.id.to_string(),
            problem,
        };
        let mut prefixes: Vec<&str> = hall.spec.zones.iter().map(|z| z.prefix.as_str()).collect();
        prefixes.extend(hall.voice.prefix_say.iter().map(|(_, p, _)| p.as_str()));
        if prefixes.is_empty() {
            prefixes.push("A");
        }
        for p in prefixes {
            let ticket = crate::engine::TicketNumber::new(p, 1, 3).map_err(|e| err(e.to_string()))?;
            script(&hall.voice, ticket, any_window, &|c| self.has(c))
                .map(|_: Vec<Piece>| ())
                .map_err(err)?;
        }
        Ok(())
    }
}
