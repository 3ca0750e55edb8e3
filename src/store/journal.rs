//! The embedded store: an append-only journal of checksummed records in
//! numbered segment files, and one snapshot file per hall.
//!
//! ```text
//! DIR/journal-00000001.log   "HALLCALL-JOURNAL-1\n", then records:
//!                            [len: u32 LE][crc32: u32 LE][{"hall":…,"event":…}]
//! DIR/snapshots/HALL.json    {"segment":n,"offset":o,"snapshot":{…}}
//! ```
//!
//! A batch of records is one `write` and one `fdatasync`: the group commit.
//! A record cut short by a crash at the end of the last segment is a torn
//! write; it was never acknowledged, so it is cut off at start and the cut
//! is reported. Anything else that does not read back is corruption, and
//! the error names the file and byte offset. Blocking I/O: call from a
//! blocking thread.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::epoch::Epochs;
use super::{Recovered, StoreError};
use crate::engine::{Event, EventKind, HallId, HallSnapshot};

mod history;
mod private;

use history::DayIndex;
pub use history::JournalReader;

const MAGIC: &[u8] = b"HALLCALL-JOURNAL-1\n";
/// The length of a segment that holds no record yet.
pub(crate) const EMPTY_SEGMENT: u64 = MAGIC.len() as u64;
/// Each hall's log incarnations (see `stream::Epoch`).
const EPOCHS: &str = "epochs.json";
const HEADER: usize = 8;
const MAX_RECORD: usize = 16 << 20;

/// Settings for the embedded store.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Segments older than this are deleted once every hall has a snapshot
    /// past them (reports read the days they keep).
    pub retention: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_bytes: 64 << 20,
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// A place in the journal: segment number and byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    hall: HallId,
    event: &'a Event,
}

#[derive(Deserialize)]
struct RecordIn {
    hall: HallId,
    event: Event,
}

/// A snapshot file as written: the same as [`SnapshotFile`], borrowing the
/// snapshot rather than cloning it.
#[derive(Serialize)]
struct SnapshotFileOut<'a> {
    #[serde(flatten)]
    position: Position,
    snapshot: &'a HallSnapshot,
}

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    #[serde(flatten)]
    position: Position,
    snapshot: HallSnapshot,
}

/// The open journal. One writer at a time (the store's writer task).
pub struct Journal {
    /// Held open for the journal's life: the data directory's lock.
    _lock: File,
    dir: PathBuf,
    opts: JournalOptions,
    file: File,
    segment: u64,
    len: u64,
    /// A failed write could not be undone: refuse writes until restart.
    failed: Option<String>,
    /// Every hall with events here, and the segment its snapshot starts
    /// from (0 without one): what replay needs, so what pruning keeps.
    replay_from: HashMap<HallId, u64>,
    /// Where each hall's days start, for reports.
    days: Arc<RwLock<DayIndex>>,
    /// Each hall's log incarnations, as in `epochs.json`.
    epochs: HashMap<HallId, Epochs>,
}

/// What opening found: every hall's history, and any repair made.
pub struct Opened {
    pub journal: Journal,
    pub halls: HashMap<HallId, Recovered>,
    /// A torn last record that was cut off, as a sentence for the log.
    pub repaired: Option<String>,
}

fn io(place: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", place.display()))
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("journal-{n:08}.log"))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

/// Segment numbers present in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let name = entry.map_err(|e| io(dir, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix("journal-").and_then(|r| r.strip_suffix(".log")) {
            match n.parse() {
                Ok(n) => out.push(n),
                Err(_) => {
                    return Err(StoreError::corrupt(
                        dir.join(&*name).display().to_string(),
                        "not a journal segment name",
                    ));
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and reads every hall back.
    ///
    /// # Errors
    /// The directory cannot be used, or holds data that is not a hallcall
    /// journal or does not read back (the error names file and offset).
    pub fn open(dir: &Path, opts: JournalOptions) -> Result<Opened, StoreError> {
        private::private_dir(dir)?;
        let lock = private::lock(dir)?;
        private::private_dir(&dir.join("snapshots"))?;
        let mut halls: HashMap<HallId, Recovered> = HashMap::new();
        let mut from: HashMap<HallId, Position> = HashMap::new();
        // A snapshot that does not read back is only a shortcut: its hall is
        // replayed from the journal instead, if the journal still reaches
        // back to the hall's first event.
        let mut unreadable: Vec<(PathBuf, StoreError)> = Vec::new();
        for entry in fs::read_dir(dir.join("snapshots")).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                match read_snapshot(&path) {
                    Ok(file) => {
                        from.insert(file.snapshot.hall, file.position);
                        let id = file.snapshot.hall;
                        halls.entry(id).or_default().snapshot = Some(file.snapshot);
                    }
                    Err(e @ StoreError::Corrupt { .. }) => unreadable.push((path, e)),
                    Err(e) => return Err(e),
                }
            }
        }
        let mut numbers = segments(dir)?;
        let mut repaired = None;
        if numbers.is_empty() {
            create_segment(dir, 1)?;
            numbers.push(1);
        }
        let last = *numbers.last().unwrap_or(&1);
        let mut days = DayIndex::default();
        for &n in &numbers {
            let path = segment_path(dir, n);
            let end = scan(&path, n == last, |pos, rec| {
                let position = Position {
                    segment: n,
                    offset: pos,
                };
                if let EventKind::DayStarted { day } = rec.event.kind {
                    days.day(rec.hall, day, position, rec.event.seq);
                }
                days.mark(rec.hall, position, rec.event.seq);
                let after = from.get(&rec.hall).is_none_or(|p| position >= *p);
                let hall = halls.entry(rec.hall).or_default();
                let snap_seq = hall.snapshot.as_ref().map_or(0, |s| s.seq);
                if after && rec.event.seq > snap_seq {
                    if rec.event.seq != hall.last_seq() + 1 {
                        return Err(format!(
                            "hall {}: event {} follows event {}",
                            rec.hall,
                            rec.event.seq,
                            hall.last_seq()
                        ));
                    }
                    hall.events.push(rec.event);
                }
                Ok(())
            })
            .map_err(|e| match unreadable.first() {
                Some((snap, why)) => StoreError::corrupt(
                    snap.display().to_string(),
                    format!(
                        "the snapshot does not read back ({why}) and the journal cannot replace it ({e}): \
                         restore it from a backup"
                    ),
                ),
                None => e,
            })?;
            if let Some((good, total)) = end {
                let file = OpenOptions::new().write(true).open(&path).map_err(|e| io(&path, e))?;
                file.set_len(good).map_err(|e| io(&path, e))?;
                file.sync_all().map_err(|e| io(&path, e))?;
                repaired = Some(format!(
                    "{}: cut a torn record at offset {good} ({} bytes) left by an interrupted write",
                    path.display(),
                    total - good
                ));
            }
        }
        // Replayed in full: the unreadable snapshots are set aside, kept for
        // whoever looks into why.
        let mut notes: Vec<String> = repaired.into_iter().collect();
        for (snap, why) in &unreadable {
            let aside = snap.with_extension("json.unreadable");
            fs::rename(snap, &aside).map_err(|e| io(snap, e))?;
            notes.push(format!(
                "{} did not read back ({why}): its hall was replayed from the journal instead; the file is kept as {}",
                snap.display(),
                aside.display()
            ));
        }
        let repaired = (!notes.is_empty()).then(|| notes.join("; "));
        let replay_from = halls
            .keys()
            .map(|h| (*h, from.get(h).map_or(0, |p| p.segment)))
            .collect();
        let epochs = read_epochs(dir)?;
        let path = segment_path(dir, last);
        let file = OpenOptions::new().append(true).open(&path).map_err(|e| io(&path, e))?;
        let len = file.metadata().map_err(|e| io(&path, e))?.len();
        days.durable_to(Position {
            segment: last,
            offset: len,
        });
        Ok(Opened {
            journal: Journal {
                _lock: lock,
                dir: dir.to_path_buf(),
                opts,
                file,
                segment: last,
                len,
                failed: None,
                replay_from,
                days: Arc::new(RwLock::new(days)),
                epochs,
            },
            halls,
            repaired,
        })
    }

    /// The position the next record will be written at.
    pub fn position(&self) -> Position {
        Position {
            segment: self.segment,
            offset: self.len,
        }
    }

    /// A reader of past days, for reports; it sees what is durable.
    pub fn reader(&self) -> JournalReader {
        JournalReader {
            dir: self.dir.clone(),
            index: self.days.clone(),
        }
    }

    fn day_index(&self) -> std::sync::RwLockWriteGuard<'_, DayIndex> {
        self.days.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a batch of events durably: one write, one fdatasync.
    ///
    /// # Errors
    /// The write or sync failed; the journal is then cut back to where it
    /// was, so a failed batch leaves no partial records behind.
    pub fn append(&mut self, batch: &[(HallId, &[Event])]) -> Result<(), StoreError> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Unavailable(why.clone()));
        }
        let mut buf = Vec::with_capacity(batch.iter().map(|(_, e)| e.len() * 256).sum());
        let mut new_days = Vec::new();
        let mut marks = Vec::with_capacity(batch.len());
        for (hall, events) in batch {
            if let Some(first) = events.first() {
                marks.push((*hall, self.len + buf.len() as u64, first.seq));
            }
            for event in *events {
                let start = buf.len();
                if let EventKind::DayStarted { day } = event.kind {
                    new_days.push((*hall, day, self.len + start as u64, event.seq));
                }
                buf.extend_from_slice(&[0; HEADER]);
                serde_json::to_writer(&mut buf, &RecordOut { hall: *hall, event })
                    .map_err(|e| StoreError::Unavailable(format!("cannot encode event: {e}")))?;
                let payload = &buf[start + HEADER..];
                let len = payload.len() as u32;
                let crc = crc32fast::hash(payload);
                buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
                buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
            }
        }
        let path = segment_path(&self.dir, self.segment);
        let written = self.file.write_all(&buf).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Undo a partial write so that later batches follow good data.
            let undo = self.file.set_len(self.len).and_then(|()| self.file.sync_all());
            if let Err(u) = undo {
                self.failed = Some(format!("{}: a failed write could not be undone: {u}", path.display()));
            }
            return Err(io(&path, e));
        }
        self.len += buf.len() as u64;
        for (hall, _) in batch {
            self.replay_from.entry(*hall).or_insert(0);
        }
        {
            let end = self.position();
            let mut days = self.day_index();
            let segment = self.segment;
            for (hall, day, offset, seq) in new_days {
                days.day(hall, day, Position { segment, offset }, seq);
            }
            for (hall, offset, seq) in marks {
                days.mark(hall, Position { segment, offset }, seq);
            }
            days.durable_to(end);
        }
        if self.len >= self.opts.segment_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let next = self.segment + 1;
        let file = create_segment(&self.dir, next)?;
        self.file = file;
        self.segment = next;
        self.len = MAGIC.len() as u64;
        let end = self.position();
        self.day_index().durable_to(end);
        let pruned = self.prune();
        tracing::info!(
            segment = next,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "journal segment started"
        );
        pruned
    }

    /// Stores a hall's snapshot, taken after every event already appended.
    ///
    /// # Errors
    /// The snapshot file cannot be written.
    pub fn write_snapshot(&mut self, snapshot: &HallSnapshot) -> Result<(), StoreError> {
        let at = self.position();
        write_snapshot_file(&self.dir, at, snapshot)?;
        self.snapshot_written(snapshot.hall, at);
        Ok(())
    }

    /// Notes that a hall's snapshot taken at `at` is on disk: replay starts
    /// there, so pruning may drop what is before it.
    pub fn snapshot_written(&mut self, hall: HallId, at: Position) {
        self.replay_from.insert(hall, at.segment);
    }

    /// The journal's directory, for writing snapshot files beside it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every hall's incarnations (`DIR/epochs.json`, read at open; none
    /// before the first start).
    ///
    /// # Errors
    /// Never: the file was read when the journal opened.
    pub fn epochs(&self) -> Result<HashMap<HallId, Epochs>, StoreError> {
        Ok(self.epochs.clone())
    }

    /// Replaces a hall's incarnations in memory; [`Journal::flush_epochs`]
    /// stores them (one file write for every hall at start).
    pub fn stage_epochs(&mut self, hall: HallId, epochs: Epochs) {
        self.epochs.insert(hall, epochs);
    }

    /// Stores every hall's incarnations: written beside, synced, renamed
    /// over, so a crash leaves the old file or the new one.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn flush_epochs(&self) -> Result<(), StoreError> {
        let path = self.dir.join(EPOCHS);
        let tmp = self.dir.join(format!("{EPOCHS}.tmp"));
        let body = serde_json::to_vec(&self.epochs)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode epochs: {e}")))?;
        let mut f = private::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| io(&tmp, e))?;
        f.write_all(&body)
            .and_then(|()| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        sync_dir(&self.dir)
    }

    /// Reads one hall back (after a failure, to rebuild it from what is stored).
    ///
    /// # Errors
    /// As for [`Journal::open`].
    pub fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        load_from(&self.dir, hall)
    }

    /// Deletes segments past retention that no hall needs for replay.
    fn prune(&mut self) -> Result<(), StoreError> {
        let needed = self.replay_from.values().copied().min().unwrap_or(self.segment);
        let cutoff = SystemTime::now().checked_sub(self.opts.retention);
        for n in segments(&self.dir)?.into_iter().filter(|&n| n < needed) {
            let path = segment_path(&self.dir, n);
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| io(&path, e))?;
            if cutoff.is_some_and(|c| modified < c) {
                self.day_index().forget_before(n + 1);
                fs::remove_file(&path).map_err(|e| io(&path, e))?;
                tracing::info!(segment = %path.display(), "deleted a journal segment past retention");
            }
        }
        sync_dir(&self.dir)
    }
}

/// Reads one hall back from the journal in `dir` without its lock (a
/// server may be running on it: what it is writing at this moment may be
/// left out, never half read).
///
/// # Errors
/// As for [`Journal::open`].
pub fn load_from(dir: &Path, hall: HallId) -> Result<Recovered, StoreError> {
    let path = dir.join("snapshots").join(format!("{hall}.json"));
    let mut out = Recovered::default();
    let mut from = Position { segment: 0, offset: 0 };
    if path.exists() {
        let file = read_snapshot(&path)?;
        from = file.position;
        out.snapshot = Some(file.snapshot);
    }
    let all = segments(dir)?;
    let newest = all.last().copied();
    for n in all.into_iter().filter(|&n| n >= from.segment) {
        // The newest may end in a record still being written beside us.
        scan(&segment_path(dir, n), Some(n) == newest, |pos, rec| {
            let snap_seq = out.snapshot.as_ref().map_or(0, |s| s.seq);
            if rec.hall == hall
                && (Position {
                    segment: n,
                    offset: pos,
                }) >= from
                && rec.event.seq > snap_seq
            {
                out.events.push(rec.event);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Writes a hall's snapshot file, taken when the journal was at `at` (every
/// event it holds is before that position): written beside, synced, renamed
/// over. Needs no journal lock, so it can run beside the writer; call
/// [`Journal::snapshot_written`] after.
///
/// # Errors
/// The snapshot cannot be encoded or the file written.
pub fn write_snapshot_file(dir: &Path, at: Position, snapshot: &HallSnapshot) -> Result<(), StoreError> {
    let dir = dir.join("snapshots");
    let path = dir.join(format!("{}.json", snapshot.hall));
    let tmp = dir.join(format!("{}.json.tmp", snapshot.hall));
    let body = serde_json::to_vec(&SnapshotFileOut { position: at, snapshot })
        .map_err(|e| StoreError::Unavailable(format!("cannot encode snapshot: {e}")))?;
    let write = || -> std::io::Result<()> {
        let mut f = private::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| io(&path, e))?;
    sync_dir(&dir)
}

fn read_epochs(dir: &Path) -> Result<HashMap<HallId, Epochs>, StoreError> {
    let path = dir.join(EPOCHS);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::corrupt(path.display().to_string(), format!("not hallcall epochs: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(io(&path, e)),
    }
}

fn create_segment(dir: &Path, n: u64) -> Result<File, StoreError> {
    let path = segment_path(dir, n);
    let mut f = private::private_file()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    f.write_all(MAGIC)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(&path, e))?;
    sync_dir(dir)?;
    Ok(f)
}

fn read_snapshot(path: &Path) -> Result<SnapshotFile, StoreError> {
    let bytes = fs::read(path).map_err(|e| io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::corrupt(path.display().to_string(), e.to_string()))
}

/// Reads every record of a segment in order, handing each to `f` with its
/// offset. In the last segment a torn final record is not an error: the
/// good length and the file length are returned so it can be cut off.
fn scan(
    path: &Path,
    last: bool,
    mut f: impl FnMut(u64, RecordIn) -> Result<(), String>,
) -> Result<Option<(u64, u64)>, StoreError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|e| io(path, e))?;
    let place = |offset: usize| format!("{} offset {offset}", path.display());
    if !bytes.starts_with(MAGIC) {
        return Err(StoreError::corrupt(place(0), "not a hallcall journal (bad header)"));
    }
    let total = bytes.len();
    let mut pos = MAGIC.len();
    while pos < total {
        let rest = total - pos;
        let torn = |why: &str| -> Result<Option<(u64, u64)>, StoreError> {
            if last {
                Ok(Some((pos as u64, total as u64)))
            } else {
                Err(StoreError::corrupt(place(pos), why.to_owned()))
            }
        };
        if rest < HEADER {
            return torn("a record header is cut short");
        }
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]);
        if len == 0 && bytes[pos..].iter().all(|&b| b == 0) {
            return torn("zeros where a record should be");
        }
        if len == 0 || len > MAX_RECORD {
            return Err(StoreError::corrupt(
                place(pos),
                format!("impossible record length {len}"),
            ));
        }
        if rest < HEADER + len {
            return torn("a record is cut short");
        }
        let payload = &bytes[pos + HEADER..pos + HEADER + len];
        if crc32fast::hash(payload) != crc {
            if pos + HEADER + len == total {
                return torn("the last record's checksum does not match");
            }
            return Err(StoreError::corrupt(place(pos), "checksum mismatch"));
        }
        let rec: RecordIn = serde_json::from_slice(payload)
            .map_err(|e| StoreError::corrupt(place(pos), format!("not a hallcall event: {e}")))?;
        f(pos as u64, rec).map_err(|e| StoreError::corrupt(place(pos), e))?;
        pos += HEADER + len;
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
