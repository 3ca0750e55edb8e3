//! Reading a hall's durable log back, beside the writer: the days a report
//! covers, and the events a reader missed (see `stream`).

use jiff::civil::Date;

use super::journal::JournalReader;
use super::redis_store::RedisStore;
use super::{StoreError, blocking};
use crate::engine::{Event, HallId};

/// Reads what the backend has made durable. Cheap to clone.
#[derive(Clone)]
pub(crate) enum LogReader {
    Journal(JournalReader),
    Redis(RedisStore),
}

impl LogReader {
    /// A log that holds nothing (tests of the stream's consumers).
    #[cfg(test)]
    pub fn nothing() -> LogReader {
        LogReader::Journal(JournalReader::empty())
    }

    /// The hall's events after `since`, in order, as far as durable now
    /// or, once there are `enough`, perhaps fewer (a backlog read in
    /// parts); `None` when the log no longer holds the first of them.
    ///
    /// # Errors
    /// The backend cannot be read, or holds data that does not read back.
    pub async fn read_since(&self, hall: HallId, since: u64, enough: usize) -> Result<Option<Vec<Event>>, StoreError> {
        match self {
            LogReader::Journal(r) => {
                let r = r.clone();
                blocking(move || r.read_since(hall, since, enough)).await
            }
            LogReader::Redis(r) => r.read_since(hall, since, enough).await,
        }
    }

    /// Hands the hall's events of the business days `from..=to` to `f`
    /// with `sink`, in order; `sink` is handed back.
    ///
    /// # Errors
    /// As for [`LogReader::read_since`], or `f` refuses an event.
    pub async fn scan_days<S, F>(
        &self,
        hall: HallId,
        (from, to): (Date, Date),
        mut sink: S,
        f: F,
    ) -> Result<S, StoreError>
    where
        S: Send + 'static,
        F: Fn(&mut S, Event) -> Result<(), String> + Send + 'static,
    {
        match self {
            LogReader::Journal(r) => {
                let r = r.clone();
                blocking(move || {
                    r.scan_days(hall, from, to, |e| f(&mut sink, e))?;
                    Ok(sink)
                })
                .await
            }
            LogReader::Redis(r) => {
                r.scan_days(hall, from, to, |e| f(&mut sink, e)).await?;
                Ok(sink)
            }
        }
    }
}
