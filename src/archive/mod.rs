//! Years of history in PostgreSQL (`--archive postgres://…`): a subscriber
//! of the durable event stream copies every hall's events into PostgreSQL,
//! with the tables people query made from them (see `docs/archive.md`).
//!
//! - `rows`: what a run of events makes (pure, from a replay of the day);
//! - `write`: the SQL, one transaction per run with the hall's cursor;
//! - `schema`: the versioned migrations.
//!
//! The archive never holds an operation up: it reads the stream at its own
//! pace, and while PostgreSQL is away it reads nothing, so when it comes
//! back the stream hands it what it missed from the store's log. Any error
//! starts it over from PostgreSQL's own cursors.

mod rows;
pub mod schema;
mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::engine::{Event, HallId, HallSpec};
use crate::report::Part;
use crate::store::{Batch, Change, Stream};
pub use rows::{Day, Rows};
use write::Statements;
pub use write::{Cursor, WriteError};

/// Events of a hall written together at most: a long catch-up is archived
/// in steps, each moving the cursor. A visit begun in one run and ended in
/// the next is written twice, the second time as a costlier update: at
/// 4,096, a sixth of the visits of a busy catch-up were.
const RUN: usize = 16_384;
/// Changes taken from the stream at once.
const TAKE: usize = 512;
/// Waits between attempts while PostgreSQL is away.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// How the archive is doing, for `/metrics` and the supervisor board.
#[derive(Debug, Default)]
pub struct Status {
    connected: AtomicBool,
    /// Per hall, the last sequence number archived.
    archived: Mutex<HashMap<HallId, u64>>,
    events: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Status {
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn archived(&self, hall: HallId) -> Option<u64> {
        self.archived
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hall)
            .copied()
    }

    /// Events archived since start.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_archived(&self, hall: HallId, seq: u64) {
        self.archived
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hall, seq);
    }

    fn failed(&self, e: &(dyn std::error::Error + 'static)) {
        self.connected.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(with_causes(e));
    }
}

/// The archive of a running server.
#[derive(Clone)]
pub struct Archive {
    url: Arc<str>,
    /// TLS, when the address asks for it (`sslmode=require` or `prefer`).
    tls: Option<MakeRustlsConnect>,
    stream: Stream,
    pub status: Arc<Status>,
}

impl Archive {
    /// Starts archiving every hall of `stream` into the database at `url`.
    ///
    /// # Errors
    /// `url` is not a PostgreSQL connection string.
    pub fn start(url: &str, stream: &Stream, specs: Vec<Arc<HallSpec>>) -> anyhow::Result<Archive> {
        Archive::start_with(url, None, stream, specs)
    }

    /// As [`Archive::start`]. An address with `sslmode=require` (or
    /// `prefer`) is reached over TLS, its certificate checked against the
    /// authorities in `ca_file` or else the system's, and against its host
    /// name. Without `sslmode`, or with `disable`, it is not encrypted.
    ///
    /// # Errors
    /// `url` is not a PostgreSQL connection string, or `ca_file` cannot be
    /// read or is given for an address that does not ask for TLS.
    pub fn start_with(
        url: &str,
        ca_file: Option<&std::path::Path>,
        stream: &Stream,
        specs: Vec<Arc<HallSpec>>,
    ) -> anyhow::Result<Archive> {
        let config = url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| anyhow::anyhow!("--archive: not a PostgreSQL address: {e}"))?;
        // libpq encrypts by default when it can; tokio-postgres would too,
        // but an address that never said so keeps working as it did.
        let wants_tls = url.contains("sslmode=") && config.get_ssl_mode() != tokio_postgres::config::SslMode::Disable;
        let tls = match (wants_tls, ca_file) {
            (true, ca) => {
                let config = crate::tls::client_config(ca, "--archive-ca-file").map_err(anyhow::Error::msg)?;
                Some(MakeRustlsConnect::new((*config).clone()))
            }
            (false, Some(_)) => anyhow::bail!("--archive-ca-file is for an --archive address with sslmode=require"),
            (false, None) => None,
        };
        let archive = Archive {
            url: Arc::from(url),
            tls,
            stream: stream.clone(),
            status: Arc::new(Status::default()),
        };
        let specs = specs.into_iter().map(|s| (s.id, s)).collect();
        tokio::spawn(run(archive.clone(), stream.clone(), specs));
        Ok(archive)
    }

    /// The hall's last durable event.
    pub fn durable(&self, hall: HallId) -> u64 {
        self.stream.durable_seq(hall).unwrap_or(0)
    }

    /// Durable events of `hall` not archived yet.
    pub fn behind(&self, hall: HallId) -> Option<u64> {
        let durable = self.stream.durable_seq(hall)?;
        Some(durable.saturating_sub(self.status.archived(hall).unwrap_or(0)))
    }

    /// Every hall, with how far it is archived and behind.
    pub fn halls(&self) -> Vec<(HallId, u64, u64)> {
        let mut out: Vec<_> = self
            .stream
            .halls()
            .map(|h| (h, self.status.archived(h).unwrap_or(0), self.behind(h).unwrap_or(0)))
            .collect();
        out.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        out
    }

    /// Waits, at most `within`, for the archive to hold every durable event
    /// (at shutdown: the next start would catch up anyway, but sooner is
    /// better for whoever reads the archive meanwhile).
    pub async fn settle(&self, within: Duration) {
        let until = tokio::time::Instant::now() + within;
        loop {
            let behind: u64 = self.stream.halls().filter_map(|h| self.behind(h)).sum();
            if behind == 0 {
                return;
            }
            if !self.status.connected() || tokio::time::Instant::now() >= until {
                tracing::warn!(
                    behind,
                    "archive: stopping with events not archived yet; the next start archives them"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The report facts of the archived days of `hall` in `range`, except
    /// `skip`; `None` when none are archived.
    ///
    /// # Errors
    /// PostgreSQL cannot be reached or read.
    pub async fn parts(&self, hall: HallId, range: (Date, Date), skip: &[Date]) -> Result<Option<Part>, WriteError> {
        let client = connect(self).await?;
        write::parts(&client, hall, range, skip).await
    }
}

async fn connect(archive: &Archive) -> Result<Client, tokio_postgres::Error> {
    let ended = |e: tokio_postgres::Error| tracing::debug!(error = %e, "archive: connection ended");
    let client = match &archive.tls {
        Some(tls) => {
            let (client, conn) = tokio_postgres::connect(&archive.url, tls.clone()).await?;
            tokio::spawn(async move { conn.await.unwrap_or_else(ended) });
            client
        }
        None => {
            let (client, conn) = tokio_postgres::connect(&archive.url, NoTls).await?;
            tokio::spawn(async move { conn.await.unwrap_or_else(ended) });
            client
        }
    };
    Ok(client)
}

/// An error with what caused it ("error performing TLS handshake: invalid
/// peer certificate: UnknownIssuer"), as an operator needs to read it.
pub fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

/// Archives until the stream ends, starting over after any failure.
async fn run(archive: Archive, stream: Stream, specs: HashMap<HallId, Arc<HallSpec>>) {
    let mut wait = RETRY_FIRST;
    // Set once a visit taken for new was found archived already: from
    // then on every visit is written as one that may be there.
    let mut careful = false;
    loop {
        match archive_once(&archive, &stream, &specs, careful).await {
            Ok(()) => return,
            Err(e) => {
                if !careful
                    && let WriteError::Pg(pg) = &e
                    && pg.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
                {
                    tracing::error!(error = %with_causes(&e), "archive: a visit taken for new was archived already; writing every visit as an update from now on");
                    careful = true;
                }
                tracing::warn!(error = %with_causes(&e), retry_in = ?wait, "archive: cannot archive now; PostgreSQL is away or refused");
                archive.status.failed(&e);
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One hall's archive as this process goes.
struct HallArchive {
    day: Day,
    cursor: Cursor,
}

/// Connects, catches up from the cursors and follows the stream; `Ok` when
/// the stream ends (shutdown).
async fn archive_once(
    archive: &Archive,
    stream: &Stream,
    specs: &HashMap<HallId, Arc<HallSpec>>,
    careful: bool,
) -> Result<(), WriteError> {
    let mut client = connect(archive).await?;
    schema::migrate(&mut client).await?;
    let st = Statements::prepare(&client).await?;
    let stored = write::cursors(&client).await?;
    let mut halls: HashMap<HallId, HallArchive> = HashMap::new();
    let mut after = HashMap::new();
    for (&id, spec) in specs {
        let cursor = stored.get(id.as_str()).copied().unwrap_or_default();
        let durable = stream.durable_seq(id).unwrap_or(0);
        let mut hall = HallArchive {
            day: Day::new(spec.clone()),
            cursor,
        };
        if cursor.seq > durable {
            // The store went back while this process was down.
            step_back(&mut client, &st, id, &mut hall, durable).await?;
        } else {
            resume_day(&client, id, &mut hall).await?;
        }
        archive.status.set_archived(id, hall.cursor.seq);
        after.insert(id, hall.cursor.seq);
        halls.insert(id, hall);
    }
    archive.status.connected.store(true, Ordering::Relaxed);
    *archive.status.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    tracing::info!(halls = halls.len(), "archive: connected; catching up from the cursors");
    // Rows are made here while writers, each on a connection of its own,
    // write the previous ones: PostgreSQL and this process work at once,
    // and PostgreSQL on more than one core. A hall always goes to the
    // same writer, so its runs stay in order.
    let mut writers = tokio::task::JoinSet::new();
    let mut jobs = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        let client = connect(archive).await?;
        // A commit need not wait for its flush to disk: the cursor is
        // in the same transaction as the rows, so a PostgreSQL crash that
        // loses the last commits loses their cursor moves too, and the
        // archive sends those events again from the store.
        client.batch_execute("SET synchronous_commit = off").await?;
        let st = Statements::prepare(&client).await?;
        let (send, queue) = tokio::sync::mpsc::channel(IN_FLIGHT);
        let status = archive.status.clone();
        // A JoinSet ends its tasks when dropped: whatever ends this
        // attempt ends its writers (a transaction cut off is rolled
        // back), so the next attempt starts alone from the cursors.
        writers.spawn(async move { write_loop(&client, &st, queue, &status).await });
        jobs.push(send);
    }
    let writer_of = |hall: HallId| {
        let mut h = rustc_hash::FxHasher::default();
        std::hash::Hash::hash(hall.as_str(), &mut h);
        (std::hash::Hasher::finish(&h) % WRITERS as u64) as usize
    };
    let mut sub = stream.subscribe_after(&after).await;
    loop {
        let changes = tokio::select! {
            changes = sub.recv_many(TAKE) => changes,
            Some(done) = writers.join_next() => return writer_ended(done),
        };
        if changes.is_empty() {
            jobs.clear();
            while let Some(done) = writers.join_next().await {
                writer_ended(done)?;
            }
            return Ok(());
        }
        // Per hall, in log order; a reset splits its runs.
        let mut runs: Vec<(HallId, Option<Vec<Arc<Batch>>>)> = Vec::new();
        for c in changes {
            match c {
                Change::Batch(b) => match runs.iter_mut().rev().find(|(h, _)| *h == b.hall) {
                    Some((_, Some(batches))) => batches.push(b),
                    _ => runs.push((b.hall, Some(vec![b]))),
                },
                Change::Reset(h) => runs.push((h, None)),
            }
        }
        for (id, run) in runs {
            let Some(hall) = halls.get_mut(&id) else { continue };
            match run {
                Some(batches) => {
                    for pending in archive_runs(id, hall, &batches, careful)? {
                        if jobs[writer_of(id)].send(Job::Write(Box::new(pending))).await.is_err() {
                            return failed_writer(&mut writers).await;
                        }
                    }
                }
                None => {
                    // What the hall's writer holds goes first.
                    let (done, flushed) = tokio::sync::oneshot::channel();
                    if jobs[writer_of(id)].send(Job::Flush(done)).await.is_err() || flushed.await.is_err() {
                        return failed_writer(&mut writers).await;
                    }
                    let durable = stream.durable_seq(id).unwrap_or(0);
                    if durable < hall.cursor.seq {
                        step_back(&mut client, &st, id, hall, durable).await?;
                    } else if durable > hall.cursor.seq {
                        write::note_gap(&mut client, &st, id, hall.cursor.seq, durable).await?;
                        hall.day.lose();
                        hall.cursor = Cursor {
                            seq: durable,
                            day: None,
                        };
                    }
                    archive.status.set_archived(id, hall.cursor.seq);
                }
            }
        }
    }
}

/// Connections writing at once (halls are shared out among them). Once
/// the backlog was read ahead, one connection kept one PostgreSQL backend
/// busy and the other core partly idle; two archived 16 halls about a
/// fifth faster on two shared cores (BENCHMARKS.md).
const WRITERS: usize = 2;
/// Runs in flight to a writer at most (each up to [`RUN`] events).
const IN_FLIGHT: usize = 4;
/// Runs, and events, written in one transaction at most.
const PER_TRANSACTION: usize = 16;
const EVENTS_PER_TRANSACTION: u64 = 65_536;
/// Transactions sent to a writer's connection and not yet answered.
const TRANSACTIONS_IN_FLIGHT: usize = 2;

/// A run's rows, ready to write.
struct Pending {
    hall: HallId,
    expected: u64,
    to: Cursor,
    rows: Rows,
    events: u64,
}

enum Job {
    Write(Box<Pending>),
    /// Answered once everything sent before is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Writes runs in order, those waiting together in one transaction (one
/// commit for several halls' runs), until the queue closes or a write fails.
/// The next transaction is sent while one is still being answered, so that
/// PostgreSQL always has work: up to [`TRANSACTIONS_IN_FLIGHT`] at once.
async fn write_loop(
    client: &Client,
    st: &Statements,
    mut queue: tokio::sync::mpsc::Receiver<Job>,
    status: &Status,
) -> Result<(), WriteError> {
    let mut in_flight = futures_util::stream::FuturesOrdered::new();
    let written = |batch: Vec<Pending>| {
        for p in batch {
            status.set_archived(p.hall, p.to.seq);
            status.events.fetch_add(p.events, Ordering::Relaxed);
        }
    };
    loop {
        let job = tokio::select! {
            Some(done) = futures_util::StreamExt::next(&mut in_flight) => {
                written(done?);
                continue;
            }
            job = queue.recv(), if in_flight.len() < TRANSACTIONS_IN_FLIGHT => job,
        };
        let Some(job) = job else {
            while let Some(done) = futures_util::StreamExt::next(&mut in_flight).await {
                written(done?);
            }
            return Ok(());
        };
        let mut batch: Vec<Pending> = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Write(p) => batch.push(*p),
                Job::Flush(done) => flushes.push(done),
            }
            if batch.len() < PER_TRANSACTION && batch.iter().map(|p| p.events).sum::<u64>() < EVENTS_PER_TRANSACTION {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            in_flight.push_back(send(client, st, batch));
        }
        if !flushes.is_empty() {
            while let Some(done) = futures_util::StreamExt::next(&mut in_flight).await {
                written(done?);
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }
}

/// One transaction of runs, handed back once written.
async fn send(client: &Client, st: &Statements, batch: Vec<Pending>) -> Result<Vec<Pending>, WriteError> {
    let items: Vec<_> = batch.iter().map(|p| (p.hall, p.expected, p.to, &p.rows)).collect();
    write::write(client, st, &items).await?;
    Ok(batch)
}

/// What a writer's end means: the stream ended (`Ok`), or a failure
/// that starts the archive over.
fn writer_ended(done: Result<Result<(), WriteError>, tokio::task::JoinError>) -> Result<(), WriteError> {
    done.unwrap_or_else(|e| Err(WriteError::Corrupt(format!("the archive's writer stopped: {e}"))))
}

/// The failure of the writer that stopped taking runs.
async fn failed_writer(writers: &mut tokio::task::JoinSet<Result<(), WriteError>>) -> Result<(), WriteError> {
    while let Some(done) = writers.join_next().await {
        writer_ended(done)?;
    }
    Err(WriteError::Corrupt("the archive's writers stopped".into()))
}

/// The runs of a hall's consecutive batches, [`RUN`] events at most each.
fn archive_runs(
    id: HallId,
    hall: &mut HallArchive,
    batches: &[Arc<Batch>],
    careful: bool,
) -> Result<Vec<Pending>, WriteError> {
    let mut out = Vec::new();
    let mut chunk: Vec<&Event> = Vec::with_capacity(RUN);
    let events = batches.iter().flat_map(|b| b.events.iter());
    for e in events {
        chunk.push(e);
        if chunk.len() == RUN {
            out.extend(archive_run(id, hall, &chunk, careful)?);
            chunk.clear();
        }
    }
    out.extend(archive_run(id, hall, &chunk, careful)?);
    Ok(out)
}

/// The rows of consecutive events of one hall, to be written in one
/// transaction with its cursor; `None` if all were archived already.
/// `careful`: every visit written as one the archive may have already.
fn archive_run(
    id: HallId,
    hall: &mut HallArchive,
    events: &[&Event],
    careful: bool,
) -> Result<Option<Pending>, WriteError> {
    // Already archived (a catch-up that overlaps) is skipped.
    let skip = events.iter().take_while(|e| e.seq <= hall.cursor.seq).count();
    let events = &events[skip..];
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(None);
    };
    if first.seq != hall.cursor.seq + 1 {
        return Err(WriteError::Corrupt(format!(
            "hall {id}: the stream gave event {} after {}",
            first.seq, hall.cursor.seq
        )));
    }
    let mut rows = Rows::default();
    // A visit is about four events: sized once, not grown while filling.
    rows.tickets.reserve(events.len() / 3);
    for e in events {
        hall.day.feed(e, &mut rows).map_err(WriteError::Corrupt)?;
    }
    if careful {
        rows.tickets.values_mut().for_each(|t| t.fresh = false);
    }
    let to = Cursor {
        seq: last.seq,
        day: hall.day.started(),
    };
    let pending = Pending {
        hall: id,
        expected: hall.cursor.seq,
        to,
        rows,
        events: events.len() as u64,
    };
    hall.cursor = to;
    Ok(Some(pending))
}

/// Rebuilds the replay of the day being archived from the archived events.
async fn resume_day(client: &Client, id: HallId, hall: &mut HallArchive) -> Result<(), WriteError> {
    let Some((_, day_seq)) = hall.cursor.day else {
        return Ok(());
    };
    let mut ignored = Rows::default();
    for e in write::events(client, id, day_seq, hall.cursor.seq).await? {
        hall.day.feed(&e, &mut ignored).map_err(WriteError::Corrupt)?;
    }
    Ok(())
}

/// The store's log went back to `to`: the events archived after it are set
/// aside, and the day's rows are made again from what remains.
async fn step_back(
    client: &mut Client,
    st: &Statements,
    id: HallId,
    hall: &mut HallArchive,
    to: u64,
) -> Result<(), WriteError> {
    write::supersede(client, st, id, hall.cursor.seq, to).await?;
    let spec_day = hall.cursor.day;
    hall.day.lose();
    hall.cursor = Cursor { seq: to, day: None };
    let Some((day, day_seq)) = spec_day.filter(|(_, s)| *s <= to) else {
        return Ok(());
    };
    write::forget_day(client, id, day).await?;
    let events = write::events(client, id, day_seq, to).await?;
    // Made again in one run from the day's start: the cursor goes back to
    // just before it, then forward.
    let mut rows = Rows::default();
    for e in &events {
        hall.day.feed(e, &mut rows).map_err(WriteError::Corrupt)?;
    }
    rows.events.clear();
    let now = Cursor {
        seq: to,
        day: hall.day.started(),
    };
    write::write(client, st, &[(id, to, now, &rows)]).await?;
    hall.cursor = now;
    Ok(())
}

#[cfg(test)]
mod tests;
