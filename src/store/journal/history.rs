//! Reading past business days back for reports, beside the writer: where
//! each hall's days start in the journal, and how far it is durable.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jiff::civil::Date;

use super::{HEADER, MAGIC, Position, RecordIn, io, segment_path};
use crate::engine::{Event, HallId};
use crate::store::StoreError;

/// A hall's events apart between two read marks: a reader far behind
/// reads its backlog in parts that start and end at marks, so a part holds
/// what it asked for and at most this many more.
pub(super) const MARK_EVERY: u64 = 4_096;

/// Per hall, where each business day's `DayStarted` record is, and read
/// marks; and the end of the durable records. Filled as the journal is
/// opened and written.
#[derive(Debug, Default)]
pub(crate) struct DayIndex {
    /// Per hall and day: where its `DayStarted` is, and its sequence number.
    days: HashMap<HallId, BTreeMap<Date, (Position, u64)>>,
    /// Per hall, by sequence number: where some of its records are (every
    /// day's start, and one at least [`MARK_EVERY`] events after the last).
    marks: HashMap<HallId, BTreeMap<u64, Position>>,
    /// Per segment, byte ranges read back whole with every checksum
    /// checked: (segment, start) → end, merged. Readers of other halls
    /// going over them again check only their own records' checksums.
    checked: BTreeMap<(u64, u64), u64>,
    end: Position,
}

impl DayIndex {
    /// Notes a day's start; the first `DayStarted` of a day counts.
    pub fn day(&mut self, hall: HallId, day: Date, at: Position, seq: u64) {
        self.days.entry(hall).or_default().entry(day).or_insert((at, seq));
        self.marks.entry(hall).or_default().entry(seq).or_insert(at);
    }

    /// Offers the place of one of the hall's records: kept as a read mark
    /// when it is far enough past the last.
    pub fn mark(&mut self, hall: HallId, at: Position, seq: u64) {
        let marks = self.marks.entry(hall).or_default();
        if marks
            .last_key_value()
            .is_none_or(|(&last, _)| seq >= last.saturating_add(MARK_EVERY))
        {
            marks.insert(seq, at);
        }
    }

    /// Where to read from for the hall's events after `since`: the last
    /// mark at or before event `since + 1`.
    fn start_after(&self, hall: HallId, since: u64) -> Option<Position> {
        let (_, &at) = self.marks.get(&hall)?.range(..=since.saturating_add(1)).next_back()?;
        Some(at)
    }

    /// Where a read of the hall's events after `since` may stop once it
    /// has `enough`: the first mark past them, or the end.
    fn stop_after(&self, hall: HallId, since: u64, enough: usize) -> Position {
        let past = since.saturating_add(1).saturating_add(enough as u64);
        self.marks
            .get(&hall)
            .and_then(|marks| marks.range(past..).next())
            .map(|(_, &at)| at)
            .filter(|at| *at < self.end)
            .unwrap_or(self.end)
    }

    /// Up to where a read of `segment` starting at `from` goes over bytes
    /// checked before (`from` itself when it does not).
    fn checked_to(&self, segment: u64, from: u64) -> u64 {
        match self.checked.range(..=(segment, from)).next_back() {
            Some((&(s, start), &end)) if s == segment && start <= from && from <= end => end,
            _ => from,
        }
    }

    /// Notes that `segment`'s records from `from` to `to` were all read
    /// back with their checksums checked.
    fn checked(&mut self, segment: u64, from: u64, to: u64) {
        let (mut start, mut end) = (from, to);
        let touching: Vec<(u64, u64)> = self
            .checked
            .range((segment, 0)..=(segment, to))
            .filter(|&(_, &e)| e >= from)
            .map(|(&k, _)| k)
            .collect();
        for k in touching {
            if let Some(e) = self.checked.remove(&k) {
                start = start.min(k.1);
                end = end.max(e);
            }
        }
        self.checked.insert((segment, start), end);
    }

    pub fn durable_to(&mut self, end: Position) {
        self.end = end;
    }

    /// Forgets days that start in deleted segments.
    pub fn forget_before(&mut self, segment: u64) {
        for days in self.days.values_mut() {
            days.retain(|_, (p, _)| p.segment >= segment);
        }
        for marks in self.marks.values_mut() {
            marks.retain(|_, p| p.segment >= segment);
        }
        self.checked.retain(|&(s, _), _| s >= segment);
    }

    /// Where `from..=to` starts and ends for a hall, if it has a day there.
    fn span(&self, hall: HallId, from: Date, to: Date) -> Option<(Position, Position)> {
        let days = self.days.get(&hall)?;
        let (_, &(start, _)) = days.range(from..=to).next()?;
        let stop = days
            .range((Bound::Excluded(to), Bound::Unbounded))
            .next()
            .map_or(self.end, |(_, &(p, _))| p);
        Some((start, stop.min(self.end)))
    }
}

/// Reads days back from the journal's files. Cheap to clone; safe beside
/// the writer, because it reads only records already durable.
#[derive(Clone, Debug)]
pub struct JournalReader {
    pub(super) dir: PathBuf,
    pub(super) index: Arc<RwLock<DayIndex>>,
}

impl JournalReader {
    /// A reader of no journal: every read finds nothing (tests).
    #[cfg(test)]
    pub(crate) fn empty() -> JournalReader {
        JournalReader {
            dir: PathBuf::new(),
            index: Arc::default(),
        }
    }

    /// The events of hall `hall` in the business days `from..=to` that the
    /// journal still holds, in order. Blocking I/O.
    ///
    /// # Errors
    /// As for [`JournalReader::scan_days`].
    pub fn read_days(&self, hall: HallId, from: Date, to: Date) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        self.scan_days(hall, from, to, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands the same events to `f` one by one, in order, without holding
    /// them: a long range costs no memory. Blocking I/O.
    ///
    /// # Errors
    /// A file cannot be read, a record does not read back (named by file
    /// and offset), or `f` refuses an event (its message, with the place).
    pub fn scan_days(
        &self,
        hall: HallId,
        from: Date,
        to: Date,
        f: impl FnMut(Event) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let span = self.index().span(hall, from, to);
        match span {
            Some((start, stop)) => self.scan(hall, start, stop, f),
            None => Ok(()),
        }
    }

    /// The hall's durable events after `since`, in order; `None` when the
    /// journal no longer holds the first of them. Reads from the last read
    /// mark at or before `since + 1` to the end, or to the first mark after
    /// `enough` events: a reader far behind takes its backlog a part at a
    /// time, each read starting about where the last ended. Blocking I/O.
    ///
    /// # Errors
    /// As for [`JournalReader::scan_days`].
    pub fn read_since(&self, hall: HallId, since: u64, enough: usize) -> Result<Option<Vec<Event>>, StoreError> {
        let (start, end) = {
            let index = self.index();
            match index.start_after(hall, since) {
                Some(start) => (start, index.stop_after(hall, since, enough)),
                None => return Ok(None),
            }
        };
        let mut out = Vec::new();
        self.scan(hall, start, end, |e| {
            if e.seq > since {
                out.push(e);
            }
            Ok(())
        })?;
        match out.first() {
            Some(first) if first.seq != since + 1 => Ok(None),
            _ => Ok(Some(out)),
        }
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, DayIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the hall's events between two record positions to `f`.
    fn scan(
        &self,
        hall: HallId,
        start: Position,
        stop: Position,
        mut f: impl FnMut(Event) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        // Records start with the hall id; others are skipped unparsed.
        let prefix = format!(
            "{{\"hall\":{}",
            serde_json::to_string(&hall).map_err(|e| StoreError::Unavailable(e.to_string()))?
        );
        let mut last = None;
        for segment in start.segment..=stop.segment {
            let path = segment_path(&self.dir, segment);
            let from = if segment == start.segment {
                start.offset
            } else {
                MAGIC.len() as u64
            };
            let until = (segment == stop.segment).then_some(stop.offset);
            let checked = self.index().checked_to(segment, from);
            let read_to = read_segment(&path, (from, until), checked, prefix.as_bytes(), |offset, payload| {
                let rec: RecordIn = serde_json::from_slice(payload)
                    .map_err(|e| StoreError::corrupt(place(&path, offset), format!("not a hallcall event: {e}")))?;
                if rec.hall == hall {
                    if let Some(last) = last
                        && rec.event.seq != last + 1
                    {
                        return Err(StoreError::corrupt(
                            place(&path, offset),
                            format!("hall {hall}: event {} follows event {last}", rec.event.seq),
                        ));
                    }
                    last = Some(rec.event.seq);
                    f(rec.event).map_err(|e| StoreError::corrupt(place(&path, offset), e))?;
                }
                Ok(())
            })?;
            self.index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .checked(segment, from, read_to);
        }
        Ok(())
    }
}

fn place(path: &Path, offset: u64) -> String {
    format!("{} offset {offset}", path.display())
}

/// Bytes read from a segment at a time: one buffer, reused, that stays in
/// the cache. (Read whole, a busy day's segment is hundreds of megabytes
/// of fresh pages for the kernel to zero on every read.)
const CHUNK: usize = 1 << 20;

/// Hands the payload of every record of a segment between two record
/// boundaries that starts with `prefix` to `f`; where the read ended.
/// Every record's checksum is checked, other halls' too up to `checked`
/// (checked before): one whose start is damaged would otherwise be taken
/// for another hall's and skipped unseen.
fn read_segment(
    path: &Path,
    (from, until): (u64, Option<u64>),
    checked: u64,
    prefix: &[u8],
    mut f: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let mut head = [0u8; MAGIC.len()];
    file.read_exact(&mut head).map_err(|e| io(path, e))?;
    if head != MAGIC {
        return Err(StoreError::corrupt(
            place(path, 0),
            "not a hallcall journal (bad header)",
        ));
    }
    file.seek(SeekFrom::Start(from)).map_err(|e| io(path, e))?;
    let mut file = file.take(until.map_or(u64::MAX, |end| end.saturating_sub(from)));
    let mut bytes: Vec<u8> = Vec::with_capacity(CHUNK);
    // The file offset of `bytes[0]`.
    let mut base = from;
    let mut ended = false;
    loop {
        let mut pos = 0;
        let mut wanted = HEADER;
        while pos + HEADER <= bytes.len() {
            let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
            let crc = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]);
            let Some(payload) = bytes.get(pos + HEADER..pos + HEADER + len) else {
                wanted = HEADER + len;
                break;
            };
            let offset = base + pos as u64;
            let ours = payload.starts_with(prefix);
            let seen = offset + (HEADER + len) as u64 <= checked;
            if len == 0 || ((ours || !seen) && crc32fast::hash(payload) != crc) {
                return Err(StoreError::corrupt(place(path, offset), "checksum mismatch"));
            }
            if ours {
                f(offset, payload)?;
            }
            pos += HEADER + len;
        }
        // What is left is the start of a record: kept, and the rest read
        // after it.
        bytes.drain(..pos);
        base += pos as u64;
        if ended {
            return match bytes.len() {
                0 => Ok(base),
                n if n < HEADER => Err(StoreError::corrupt(place(path, base), "a record header is cut short")),
                _ => Err(StoreError::corrupt(place(path, base), "a record is cut short")),
            };
        }
        let room = CHUNK.max(wanted).saturating_sub(bytes.len());
        let read = (&mut file)
            .take(room as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| io(path, e))?;
        ended = read == 0;
    }
}
