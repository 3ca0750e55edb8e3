//! A hall log's incarnations: which log a sequence number counts in.

use std::fmt;

use super::StoreError;

/// Incarnations remembered per hall.
pub const EPOCHS_KEPT: usize = 64;

/// One incarnation of a hall's log. A new one starts each time the store is
/// opened and whenever the log is found replaced, so a reader that saw
/// sequence numbers under one epoch can tell whether this log still
/// contains them. Random, not counted: a restored backup must not reuse
/// the number of an incarnation it never saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Epoch(pub u64);

impl From<Epoch> for String {
    fn from(e: Epoch) -> String {
        e.to_string()
    }
}

impl TryFrom<String> for Epoch {
    type Error = std::num::ParseIntError;
    fn try_from(s: String) -> Result<Epoch, Self::Error> {
        s.parse()
    }
}

impl Epoch {
    /// A fresh epoch.
    ///
    /// # Errors
    /// The system has no randomness to give.
    pub fn random() -> Result<Epoch, StoreError> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| StoreError::Unavailable(format!("no randomness for an epoch: {e}")))?;
        // Kept to 52 bits: a JavaScript number holds it exactly, should a
        // client ever parse it as one.
        Ok(Epoch(u64::from_le_bytes(b) & ((1 << 52) - 1)))
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013x}", self.0)
    }
}

impl std::str::FromStr for Epoch {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Epoch, Self::Err> {
        u64::from_str_radix(s, 16).map(Epoch)
    }
}

/// A hall's incarnations, oldest first: each with the first sequence
/// number written under it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Epochs(pub Vec<(Epoch, u64)>);

impl Epochs {
    pub fn current(&self) -> Option<Epoch> {
        self.0.last().map(|(e, _)| *e)
    }

    /// Whether a reader that has seen events up to `seen` under `epoch`
    /// saw only history this log still shares: `epoch` is one of this
    /// log's and `seen` is no further than where it ended (the start of
    /// the next one, or `last` for the current one).
    pub fn contains(&self, epoch: Epoch, seen: u64, last: u64) -> bool {
        let Some(i) = self.0.iter().position(|(e, _)| *e == epoch) else {
            return false;
        };
        let end = self.0.get(i + 1).map_or(last, |(_, first)| first.saturating_sub(1));
        seen <= end
    }

    /// Starts a new incarnation at `first`, forgetting the oldest beyond
    /// [`EPOCHS_KEPT`].
    pub fn begin(&mut self, epoch: Epoch, first: u64) {
        self.0.push((epoch, first));
        let extra = self.0.len().saturating_sub(EPOCHS_KEPT);
        self.0.drain(..extra);
    }
}
