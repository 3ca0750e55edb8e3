//! The archive's SQL. Each run of a hall's events is written in one
//! transaction together with the hall's cursor, after checking that the
//! cursor is where this process left it: a crash on either side leaves the
//! events either all archived or not at all, and a restart goes on from
//! the cursor, so each (hall, seq) is archived exactly once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use jiff::civil::Date;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement, Transaction};

use super::rows::{EventRow, RatingRow, Rows, SpellRow, TicketRow};
use crate::engine::{Event, EventKind, HallId, Millis, TicketNumber};
use crate::report::Part;

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("PostgreSQL: {0}")]
    Pg(#[from] tokio_postgres::Error),
    /// Another process moved the hall's cursor: start over from it.
    #[error("hall {hall}: the archive's cursor is at {found}, this process expected {expected}")]
    Moved { hall: HallId, expected: u64, found: u64 },
    #[error("archived data does not read back: {0}")]
    Corrupt(String),
}

/// Where a hall's archive stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub seq: u64,
    /// The day being archived and its `DayStarted`'s sequence number.
    pub day: Option<(Date, u64)>,
}

/// The statements every run uses, prepared once per connection.
pub struct Statements {
    begin: Statement,
    commit: Statement,
    lock_cursor: Statement,
    expect_cursor: Statement,
    report_day: Statement,
    events: Statement,
    copy_tickets: Statement,
    tickets: Statement,
    ratings: Statement,
    follow_ups: Statement,
    sessions: Statement,
    pauses: Statement,
    cursor: Statement,
}

// Days are sent as days since 2000-01-01 (`day`), times as timestamps
// (`time`): binary, nothing for PostgreSQL to parse.
const EVENTS: &str = "INSERT INTO hallcall.event_pages (hall, first_seq, last_seq, day, first_at, last_at, events)
     SELECT $1, f, l, date '2000-01-01' + d, fa, la, e
     FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[])
         AS x(f, l, d, fa, la, e)";

/// Visits the archive has no row of yet, of every run in a transaction: a
/// binary `COPY`, refused if a row is there after all. Inserted from
/// arrays (`unnest`) they were PostgreSQL's largest cost (BENCHMARKS.md).
const COPY_TICKETS: &str = "COPY hallcall.tickets (hall, day, number, zone, service, lane, category, channel,
     issued_at, first_called_at, calls, recalls, skips, transfers, started_at, finished_at, window_no, staff,
     outcome) FROM STDIN (FORMAT binary)";

/// The types of [`COPY_TICKETS`]'s columns, in order.
const TICKET_COLUMNS: [Type; 19] = [
    Type::TEXT,
    Type::DATE,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
];

/// Visits the archive has a row of already (or may have): an upsert.
const TICKETS: &str = "INSERT INTO hallcall.tickets AS t (hall, day, number, zone, service, lane, category,
         channel, issued_at, first_called_at, calls, recalls, skips, transfers, started_at, finished_at,
         window_no, staff, outcome)
     SELECT $1, date '2000-01-01' + d, n, z, s, l, c, ch, i, f, k, r, sk, tr, st, fi, w, sf, o
     FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::timestamptz[], $10::timestamptz[], $11::int[], $12::int[], $13::int[], $14::int[], $15::timestamptz[],
         $16::timestamptz[], $17::int[], $18::text[], $19::text[])
         AS x(d, n, z, s, l, c, ch, i, f, k, r, sk, tr, st, fi, w, sf, o)
     ON CONFLICT (hall, day, number) DO UPDATE SET
         zone = EXCLUDED.zone, service = EXCLUDED.service, lane = EXCLUDED.lane,
         category = EXCLUDED.category, channel = EXCLUDED.channel,
         first_called_at = COALESCE(t.first_called_at, EXCLUDED.first_called_at),
         calls = t.calls + EXCLUDED.calls, recalls = EXCLUDED.recalls, skips = EXCLUDED.skips,
         transfers = EXCLUDED.transfers, started_at = EXCLUDED.started_at,
         finished_at = COALESCE(EXCLUDED.finished_at, t.finished_at),
         window_no = EXCLUDED.window_no, staff = EXCLUDED.staff, outcome = EXCLUDED.outcome";

const RATINGS: &str =
    "INSERT INTO hallcall.ratings (hall, day, number, window_no, staff, level, bad, comment, rated_at)
     SELECT $1, date '2000-01-01' + d, n, w, sf, l, b, c, a
     FROM unnest($2::int[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::timestamptz[])
         AS x(d, n, w, sf, l, b, c, a)
     ON CONFLICT (hall, day, number) DO UPDATE SET window_no = EXCLUDED.window_no,
         staff = EXCLUDED.staff, level = EXCLUDED.level, bad = EXCLUDED.bad,
         comment = EXCLUDED.comment, rated_at = EXCLUDED.rated_at";

const FOLLOW_UPS: &str = "INSERT INTO hallcall.follow_ups (hall, seq, day, number, step, note, recorded_at)
     SELECT $1, s, date '2000-01-01' + d, n, st, no, a
     FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
         AS x(s, d, n, st, no, a)";

const SESSIONS: &str = "INSERT INTO hallcall.window_sessions (hall, day, window_no, staff, opened_at, closed_at)
     SELECT $1, date '2000-01-01' + d, w, sf, f, u
     FROM unnest($2::int[], $3::int[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS x(d, w, sf, f, u)
     ON CONFLICT (hall, window_no, opened_at) DO UPDATE SET staff = EXCLUDED.staff,
         closed_at = EXCLUDED.closed_at";

const PAUSES: &str = "INSERT INTO hallcall.window_pauses (hall, day, window_no, staff, reason, started_at, ended_at)
     SELECT $1, date '2000-01-01' + d, w, sf, r, f, u
     FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
         AS x(d, w, sf, r, f, u)
     ON CONFLICT (hall, window_no, started_at) DO UPDATE SET staff = EXCLUDED.staff,
         reason = EXCLUDED.reason, ended_at = EXCLUDED.ended_at";

const CURSOR: &str = "INSERT INTO hallcall.cursors (hall, seq, day, day_seq, updated_at)
     VALUES ($1, $2, $3::text::date, $4, now())
     ON CONFLICT (hall) DO UPDATE SET seq = EXCLUDED.seq, day = EXCLUDED.day,
         day_seq = EXCLUDED.day_seq, updated_at = now()";

const REPORT_DAY: &str =
    "INSERT INTO hallcall.report_days (hall, day, part) VALUES ($1, $2::text::date, $3::text::jsonb)
     ON CONFLICT (hall, day) DO UPDATE SET part = EXCLUDED.part";

impl Statements {
    /// # Errors
    /// PostgreSQL refused to prepare them (a schema this build does not know).
    pub async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            begin: client.prepare("BEGIN").await?,
            commit: client.prepare("COMMIT").await?,
            expect_cursor: client.prepare("SELECT hallcall.expect_cursor($1, $2)").await?,
            report_day: client.prepare(REPORT_DAY).await?,
            lock_cursor: client
                .prepare("SELECT seq FROM hallcall.cursors WHERE hall = $1 FOR UPDATE")
                .await?,
            events: client.prepare(EVENTS).await?,
            copy_tickets: client.prepare(COPY_TICKETS).await?,
            tickets: client.prepare(TICKETS).await?,
            ratings: client.prepare(RATINGS).await?,
            follow_ups: client.prepare(FOLLOW_UPS).await?,
            sessions: client.prepare(SESSIONS).await?,
            pauses: client.prepare(PAUSES).await?,
            cursor: client.prepare(CURSOR).await?,
        })
    }
}

/// A day as the statements take it: days since 2000-01-01.
fn day(d: Date) -> i32 {
    const BASE: Date = jiff::civil::date(2000, 1, 1);
    (d.duration_since(BASE).as_secs() / 86_400) as i32
}

/// A time as the statements take it (a `timestamptz`).
fn time(m: Millis) -> SystemTime {
    let since = Duration::from_millis(m.0.unsigned_abs());
    if m.0 >= 0 {
        UNIX_EPOCH + since
    } else {
        UNIX_EPOCH - since
    }
}

fn ms(m: Option<Millis>) -> Option<SystemTime> {
    m.map(time)
}

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Every hall's cursor.
///
/// # Errors
/// PostgreSQL cannot be read.
pub async fn cursors(client: &Client) -> Result<HashMap<String, Cursor>, WriteError> {
    let rows = client
        .query("SELECT hall, seq, day::text, day_seq FROM hallcall.cursors", &[])
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        let hall: String = r.get(0);
        let s: i64 = r.get(1);
        let day: Option<String> = r.get(2);
        let day_seq: Option<i64> = r.get(3);
        let day = match (day, day_seq) {
            (Some(d), Some(n)) => Some((
                d.parse::<Date>()
                    .map_err(|e| WriteError::Corrupt(format!("cursor of {hall}: {e}")))?,
                n as u64,
            )),
            _ => None,
        };
        out.insert(hall, Cursor { seq: s as u64, day });
    }
    Ok(out)
}

/// The archived events of `hall` from `from` to `to`, in order.
///
/// # Errors
/// PostgreSQL cannot be read, or an event does not read back.
pub async fn events(client: &Client, hall: HallId, from: u64, to: u64) -> Result<Vec<Event>, WriteError> {
    let rows = client
        .query(
            "SELECT s, (e ->> 'at_ms')::bigint, (e -> 'body')::text
             FROM hallcall.event_pages p
             CROSS JOIN LATERAL json_array_elements(p.events::json) AS x(e)
             CROSS JOIN LATERAL (SELECT (e ->> 'seq')::bigint) AS y(s)
             WHERE p.hall = $1 AND p.last_seq >= $2 AND p.first_seq <= $3 AND s BETWEEN $2 AND $3
             ORDER BY s",
            &[&hall.as_str(), &seq(from), &seq(to)],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let s: i64 = r.get(0);
            let kind: EventKind = serde_json::from_str(r.get::<_, &str>(2))
                .map_err(|e| WriteError::Corrupt(format!("hall {hall} event {s}: {e}")))?;
            Ok(Event {
                seq: s as u64,
                at: Millis(r.get(1)),
                kind,
            })
        })
        .collect()
}

/// A statement on its way, borrowing its parameters.
type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;
/// A parameter as `execute_raw` takes it.
type P<'a> = &'a (dyn ToSql + Sync);

/// Writes each run's rows of its hall and moves the hall's cursor from what
/// it expects to where the run ends, all in one transaction.
///
/// The whole transaction is sent at once and its answers read after: one
/// round trip for the statements, and one more for the `COPY` of new
/// visits. PostgreSQL itself checks each hall's cursor
/// (`hallcall.expect_cursor`), so a cursor found elsewhere fails the
/// transaction and nothing in it is kept. (The `COPY` comes before the
/// checks: should another process have archived the same visits, it is
/// refused first, as a duplicate visit, and the archive starts over from
/// the cursors writing every visit as an update.) A writer may send the
/// next transaction before this one's answers are in: if this one fails,
/// the next one's check fails too.
///
/// # Errors
/// PostgreSQL failed (nothing was written), or the cursor was elsewhere.
pub async fn write(client: &Client, st: &Statements, runs: &[(HallId, u64, Cursor, &Rows)]) -> Result<(), WriteError> {
    let params = runs
        .iter()
        .map(|&(hall, expected, to, rows)| RunParams::of(hall, expected, to, rows))
        .collect::<Result<Vec<_>, _>>()?;
    // New visits of every run go first, in one COPY: a later run's update
    // of a visit an earlier one made then finds its row. Nothing is kept
    // if a cursor check after fails: the transaction is rolled back.
    let mut fresh: Vec<(&str, &TicketRow)> = runs
        .iter()
        .flat_map(|(hall, _, _, rows)| {
            rows.tickets
                .values()
                .filter(|t| t.fresh)
                .map(move |t| (hall.as_str(), t))
        })
        .collect();
    fresh.sort_unstable_by_key(|&(hall, t)| (hall, ticket_order(t)));
    let mut sent: Vec<Sent<'_>> = Vec::new();
    sent.push(Box::pin(client.execute_raw(&st.begin, std::iter::empty::<P<'_>>())));
    if !fresh.is_empty() {
        sent.push(Box::pin(copy_tickets(client, st, &fresh)));
    }
    for p in &params {
        p.send(client, st, &mut sent);
    }
    sent.push(Box::pin(client.execute_raw(&st.commit, std::iter::empty::<P<'_>>())));
    // A request goes out when its future is first polled: every one is
    // polled once, in order, before any answer is awaited.
    let mut answers: Vec<Option<Result<u64, tokio_postgres::Error>>> = sent.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (request, answer) in sent.iter_mut().zip(answers.iter_mut()) {
            if let std::task::Poll::Ready(r) = request.as_mut().poll(cx) {
                *answer = Some(r);
            }
        }
        std::task::Poll::Ready(())
    })
    .await;
    // In order: the first failure is the cause, those after it only say
    // the transaction was aborted.
    for (request, answer) in sent.into_iter().zip(answers) {
        let answer = match answer {
            Some(a) => a,
            None => request.await,
        };
        if let Err(e) = answer {
            return Err(cursor_moved(&e, runs).unwrap_or(WriteError::Pg(e)));
        }
    }
    Ok(())
}

/// The order visits are written in: the tickets' primary key's, so that
/// each insert lands beside the one before in its index.
fn ticket_order(t: &TicketRow) -> (Date, &str, u32) {
    (t.day, t.number.prefix(), t.number.seq())
}

/// A day as the binary protocol has it: days since 2000-01-01.
#[derive(Debug)]
struct PgDay(i32);

impl ToSql for PgDay {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    to_sql_checked!();
}

/// Writes new visits with a binary COPY; the rows written.
async fn copy_tickets(
    client: &Client,
    st: &Statements,
    rows: &[(&str, &TicketRow)],
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, bytes::Bytes>(&st.copy_tickets).await?;
    let writer = BinaryCopyInWriter::new(sink, &TICKET_COLUMNS);
    let mut writer = std::pin::pin!(writer);
    for &(hall, t) in rows {
        let number = t.number.to_string();
        let row: [P<'_>; 19] = [
            &hall,
            &PgDay(day(t.day)),
            &number,
            &t.zone.as_str(),
            &t.service.as_str(),
            &t.lane,
            &t.category.as_ref().map(|c| c.as_str()),
            &t.channel,
            &time(t.issued_at),
            &ms(t.first_called_at),
            &t.calls,
            &t.recalls,
            &t.skips,
            &t.transfers,
            &ms(t.started_at),
            &ms(t.finished_at),
            &t.window.map(i32::from),
            &t.staff.as_deref(),
            &t.outcome,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await
}

/// The cursor check's failure, as the error a caller acts on.
fn cursor_moved(e: &tokio_postgres::Error, runs: &[(HallId, u64, Cursor, &Rows)]) -> Option<WriteError> {
    let db = e.as_db_error()?;
    if db.code().code() != "HC001" {
        return None;
    }
    let found: u64 = db.detail()?.parse().ok()?;
    let (hall, expected) = runs
        .iter()
        .find(|r| db.message().starts_with(&format!("hall {}:", r.0)))
        .map(|r| (r.0, r.1))?;
    Some(WriteError::Moved { hall, expected, found })
}

/// One run's parameters, owned or borrowed from its rows.
struct RunParams<'a> {
    hall: String,
    expected: i64,
    to: i64,
    to_day: Option<String>,
    to_day_seq: Option<i64>,
    events: Option<EventParams>,
    tickets: Option<TicketParams<'a>>,
    ratings: Option<RatingParams<'a>>,
    follow_ups: Option<FollowUpParams<'a>>,
    sessions: Option<SpellParams<'a>>,
    pauses: Option<SpellParams<'a>>,
    days: Vec<(String, String)>,
}

/// The run's events as pages: one per business day they are of.
struct EventParams {
    firsts: Vec<i64>,
    lasts: Vec<i64>,
    days: Vec<Option<i32>>,
    first_ats: Vec<SystemTime>,
    last_ats: Vec<SystemTime>,
    pages: Vec<String>,
}

impl EventParams {
    fn of(events: &[EventRow]) -> EventParams {
        let mut p = EventParams {
            firsts: Vec::new(),
            lasts: Vec::new(),
            days: Vec::new(),
            first_ats: Vec::new(),
            last_ats: Vec::new(),
            pages: Vec::new(),
        };
        for page in events.chunk_by(|a, b| a.day == b.day) {
            let (first, last) = (&page[0], &page[page.len() - 1]);
            p.firsts.push(seq(first.seq));
            p.lasts.push(seq(last.seq));
            p.days.push(first.day.map(day));
            p.first_ats.push(time(first.at));
            p.last_ats.push(time(last.at));
            p.pages.push(page_json(page));
        }
        p
    }
}

/// `[{"seq":…,"at_ms":…,"kind":"…","body":{…}},…]`: the bodies are the
/// events' own JSON, copied as they are.
fn page_json(events: &[EventRow]) -> String {
    use std::fmt::Write;
    let size: usize = events.iter().map(|e| 2 * e.body.len() + 56).sum();
    let mut out = String::with_capacity(size + 2);
    out.push('[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A kind is one of the engine's names: nothing to escape.
        let _ = write!(
            out,
            r#"{{"seq":{},"at_ms":{},"kind":"{}","body":"#,
            e.seq,
            e.at.0,
            e.kind()
        );
        out.push_str(&e.body);
        out.push('}');
    }
    out.push(']');
    out
}

struct TicketParams<'a> {
    day: Vec<i32>,
    number: Vec<String>,
    zone: Vec<&'a str>,
    service: Vec<&'a str>,
    lane: Vec<&'a str>,
    category: Vec<Option<&'a str>>,
    channel: Vec<&'a str>,
    issued: Vec<SystemTime>,
    first: Vec<Option<SystemTime>>,
    calls: Vec<i32>,
    recalls: Vec<i32>,
    skips: Vec<i32>,
    transfers: Vec<i32>,
    started: Vec<Option<SystemTime>>,
    finished: Vec<Option<SystemTime>>,
    window: Vec<Option<i32>>,
    staff: Vec<Option<&'a str>>,
    outcome: Vec<&'a str>,
}

struct RatingParams<'a> {
    day: Vec<i32>,
    number: Vec<String>,
    window: Vec<i32>,
    staff: Vec<Option<&'a str>>,
    level: Vec<&'a str>,
    bad: Vec<bool>,
    comment: Vec<Option<&'a str>>,
    at: Vec<SystemTime>,
}

struct FollowUpParams<'a> {
    seqs: Vec<i64>,
    day: Vec<i32>,
    number: Vec<String>,
    step: Vec<&'a str>,
    note: Vec<&'a str>,
    at: Vec<SystemTime>,
}

struct SpellParams<'a> {
    day: Vec<i32>,
    window: Vec<i32>,
    staff: Vec<Option<&'a str>>,
    reason: Vec<&'a str>,
    from: Vec<SystemTime>,
    until: Vec<Option<SystemTime>>,
}

impl<'a> RunParams<'a> {
    fn of(hall: HallId, expected: u64, to: Cursor, rows: &'a Rows) -> Result<RunParams<'a>, WriteError> {
        let events = (!rows.events.is_empty()).then(|| EventParams::of(&rows.events));
        let tickets_of = |t: Vec<&'a TicketRow>| {
            (!t.is_empty()).then(|| TicketParams {
                day: t.iter().map(|r| day(r.day)).collect(),
                number: t.iter().map(|r| r.number.to_string()).collect(),
                zone: t.iter().map(|r| r.zone.as_str()).collect(),
                service: t.iter().map(|r| r.service.as_str()).collect(),
                lane: t.iter().map(|r| r.lane).collect(),
                category: t.iter().map(|r| r.category.as_ref().map(|c| c.as_str())).collect(),
                channel: t.iter().map(|r| r.channel).collect(),
                issued: t.iter().map(|r| time(r.issued_at)).collect(),
                first: t.iter().map(|r| ms(r.first_called_at)).collect(),
                calls: t.iter().map(|r| r.calls).collect(),
                recalls: t.iter().map(|r| r.recalls).collect(),
                skips: t.iter().map(|r| r.skips).collect(),
                transfers: t.iter().map(|r| r.transfers).collect(),
                started: t.iter().map(|r| ms(r.started_at)).collect(),
                finished: t.iter().map(|r| ms(r.finished_at)).collect(),
                window: t.iter().map(|r| r.window.map(i32::from)).collect(),
                staff: t.iter().map(|r| r.staff.as_deref()).collect(),
                outcome: t.iter().map(|r| r.outcome).collect(),
            })
        };
        let mut known: Vec<&TicketRow> = rows.tickets.values().filter(|r| !r.fresh).collect();
        known.sort_unstable_by_key(|r| ticket_order(r));
        let ratings = (!rows.ratings.is_empty()).then(|| {
            // One row per ticket in a statement (ON CONFLICT touches a row
            // once): the latest rating of a ticket in the run wins.
            let mut latest: HashMap<(Date, TicketNumber), &RatingRow> = HashMap::new();
            for r in &rows.ratings {
                latest.insert((r.day, r.number), r);
            }
            let r: Vec<&RatingRow> = latest.into_values().collect();
            RatingParams {
                day: r.iter().map(|r| day(r.day)).collect(),
                number: r.iter().map(|r| r.number.to_string()).collect(),
                window: r.iter().map(|r| i32::from(r.window)).collect(),
                staff: r.iter().map(|r| r.staff.as_deref()).collect(),
                level: r.iter().map(|r| r.level.as_str()).collect(),
                bad: r
                    .iter()
                    .map(|r| matches!(r.level.as_str(), "dissatisfied" | "very_dissatisfied"))
                    .collect(),
                comment: r.iter().map(|r| r.comment.as_deref()).collect(),
                at: r.iter().map(|r| time(r.at)).collect(),
            }
        });
        let follow_ups = (!rows.follow_ups.is_empty()).then(|| {
            let f = &rows.follow_ups;
            FollowUpParams {
                seqs: f.iter().map(|f| seq(f.seq)).collect(),
                day: f.iter().map(|f| day(f.day)).collect(),
                number: f.iter().map(|f| f.number.to_string()).collect(),
                step: f.iter().map(|f| f.step.as_str()).collect(),
                note: f.iter().map(|f| f.note.as_str()).collect(),
                at: f.iter().map(|f| time(f.at)).collect(),
            }
        });
        let spells = |spells: &'a std::collections::BTreeMap<_, SpellRow>| {
            (!spells.is_empty()).then(|| {
                let s: Vec<&SpellRow> = spells.values().collect();
                SpellParams {
                    day: s.iter().map(|s| day(s.day)).collect(),
                    window: s.iter().map(|s| i32::from(s.window)).collect(),
                    staff: s.iter().map(|s| s.staff.as_deref()).collect(),
                    reason: s.iter().map(|s| s.reason.unwrap_or("other")).collect(),
                    from: s.iter().map(|s| time(s.from)).collect(),
                    until: s.iter().map(|s| ms(s.until)).collect(),
                }
            })
        };
        let days = rows
            .days
            .iter()
            .map(|(day, part)| {
                let json = serde_json::to_string(part).map_err(|e| WriteError::Corrupt(e.to_string()))?;
                Ok((day.to_string(), json))
            })
            .collect::<Result<_, WriteError>>()?;
        Ok(RunParams {
            hall: hall.as_str().to_owned(),
            expected: seq(expected),
            to: seq(to.seq),
            to_day: to.day.map(|(d, _)| d.to_string()),
            to_day_seq: to.day.map(|(_, s)| seq(s)),
            events,
            tickets: tickets_of(known),
            ratings,
            follow_ups,
            sessions: spells(&rows.sessions),
            pauses: spells(&rows.pauses),
            days,
        })
    }

    /// Sends the run's statements, in order: the cursor check, the rows,
    /// the cursor.
    fn send(&'a self, client: &'a Client, st: &'a Statements, out: &mut Vec<Sent<'a>>) {
        let h: P<'a> = &self.hall;
        out.push(Box::pin(client.execute_raw(&st.expect_cursor, [h, &self.expected])));
        if let Some(e) = &self.events {
            let p: [P<'a>; 7] = [h, &e.firsts, &e.lasts, &e.days, &e.first_ats, &e.last_ats, &e.pages];
            out.push(Box::pin(client.execute_raw(&st.events, p)));
        }
        if let Some(t) = &self.tickets {
            let p: [P<'a>; 19] = [
                h,
                &t.day,
                &t.number,
                &t.zone,
                &t.service,
                &t.lane,
                &t.category,
                &t.channel,
                &t.issued,
                &t.first,
                &t.calls,
                &t.recalls,
                &t.skips,
                &t.transfers,
                &t.started,
                &t.finished,
                &t.window,
                &t.staff,
                &t.outcome,
            ];
            out.push(Box::pin(client.execute_raw(&st.tickets, p)));
        }
        if let Some(r) = &self.ratings {
            let p: [P<'a>; 9] = [
                h, &r.day, &r.number, &r.window, &r.staff, &r.level, &r.bad, &r.comment, &r.at,
            ];
            out.push(Box::pin(client.execute_raw(&st.ratings, p)));
        }
        if let Some(f) = &self.follow_ups {
            let p: [P<'a>; 7] = [h, &f.seqs, &f.day, &f.number, &f.step, &f.note, &f.at];
            out.push(Box::pin(client.execute_raw(&st.follow_ups, p)));
        }
        if let Some(s) = &self.sessions {
            let p: [P<'a>; 6] = [h, &s.day, &s.window, &s.staff, &s.from, &s.until];
            out.push(Box::pin(client.execute_raw(&st.sessions, p)));
        }
        if let Some(s) = &self.pauses {
            let p: [P<'a>; 7] = [h, &s.day, &s.window, &s.staff, &s.reason, &s.from, &s.until];
            out.push(Box::pin(client.execute_raw(&st.pauses, p)));
        }
        for (day, part) in &self.days {
            out.push(Box::pin(client.execute_raw(&st.report_day, [h, day as P<'a>, part])));
        }
        let p: [P<'a>; 4] = [h, &self.to, &self.to_day, &self.to_day_seq];
        out.push(Box::pin(client.execute_raw(&st.cursor, p)));
    }
}

async fn check_cursor(tx: &Transaction<'_>, st: &Statements, hall: HallId, expected: u64) -> Result<(), WriteError> {
    let found = tx
        .query_opt(&st.lock_cursor, &[&hall.as_str()])
        .await?
        .map_or(0, |r| r.get::<_, i64>(0) as u64);
    if found != expected {
        return Err(WriteError::Moved { hall, expected, found });
    }
    Ok(())
}

async fn set_cursor(tx: &Transaction<'_>, st: &Statements, hall: HallId, to: Cursor) -> Result<(), WriteError> {
    let day = to.day.map(|(d, _)| d.to_string());
    let day_seq = to.day.map(|(_, s)| seq(s));
    tx.execute(&st.cursor, &[&hall.as_str(), &seq(to.seq), &day, &day_seq])
        .await?;
    Ok(())
}

/// The store's log went back to `to` (below what was archived): the
/// archived events after it, and the day's rows made from them, are moved
/// aside, and the cursor goes back. The caller rebuilds the day's rows.
///
/// # Errors
/// As for [`write`].
pub async fn supersede(
    client: &mut Client,
    st: &Statements,
    hall: HallId,
    expected: u64,
    to: u64,
) -> Result<(), WriteError> {
    let tx = client.transaction().await?;
    check_cursor(&tx, st, hall, expected).await?;
    let h = hall.as_str();
    let moved = tx
        .execute(
            "INSERT INTO hallcall.superseded_events (hall, seq, at_ms, at, day, kind, body)
             SELECT p.hall, s, a, to_timestamp(a / 1000.0), p.day, e ->> 'kind', (e -> 'body')::jsonb
             FROM hallcall.event_pages p
             CROSS JOIN LATERAL json_array_elements(p.events::json) AS x(e)
             CROSS JOIN LATERAL (SELECT (e ->> 'seq')::bigint, (e ->> 'at_ms')::bigint) AS y(s, a)
             WHERE p.hall = $1 AND p.last_seq > $2 AND s > $2",
            &[&h, &seq(to)],
        )
        .await?;
    // The page that straddles `to` keeps its events up to it.
    tx.execute(
        "UPDATE hallcall.event_pages p SET events = k.events, last_seq = k.last_seq, last_at = k.last_at
         FROM (SELECT p.hall, p.first_seq, json_agg(e ORDER BY o)::text AS events, max(s) AS last_seq,
                      to_timestamp(max(a) / 1000.0) AS last_at
               FROM hallcall.event_pages p
               CROSS JOIN LATERAL json_array_elements(p.events::json) WITH ORDINALITY AS x(e, o)
               CROSS JOIN LATERAL (SELECT (e ->> 'seq')::bigint, (e ->> 'at_ms')::bigint) AS y(s, a)
               WHERE p.hall = $1 AND p.first_seq <= $2 AND p.last_seq > $2 AND s <= $2
               GROUP BY p.hall, p.first_seq) AS k
         WHERE p.hall = k.hall AND p.first_seq = k.first_seq",
        &[&h, &seq(to)],
    )
    .await?;
    tx.execute(
        "DELETE FROM hallcall.event_pages WHERE hall = $1 AND first_seq > $2",
        &[&h, &seq(to)],
    )
    .await?;
    tracing::warn!(%hall, moved, back_to = to, "archive: the store's log went back; archived events after it moved to superseded_events");
    tx.execute(
        "UPDATE hallcall.cursors SET seq = $2, day = NULL, day_seq = NULL, updated_at = now() WHERE hall = $1",
        &[&hall.as_str(), &seq(to)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the rows made from the day that started at `day_seq`, so that
/// they can be made again from its events.
///
/// # Errors
/// As for [`write`].
pub async fn forget_day(client: &mut Client, hall: HallId, day: Date) -> Result<(), WriteError> {
    let tx = client.transaction().await?;
    for table in [
        "tickets",
        "ratings",
        "follow_ups",
        "window_sessions",
        "window_pauses",
        "report_days",
    ] {
        tx.execute(
            &format!("DELETE FROM hallcall.{table} WHERE hall = $1 AND day = $2::text::date"),
            &[&hall.as_str(), &day.to_string()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The archive never got the events after `after` up to `resumed`: noted,
/// and the cursor moved past them.
///
/// # Errors
/// As for [`write`].
pub async fn note_gap(
    client: &mut Client,
    st: &Statements,
    hall: HallId,
    after: u64,
    resumed: u64,
) -> Result<(), WriteError> {
    let tx = client.transaction().await?;
    check_cursor(&tx, st, hall, after).await?;
    tx.execute(
        "INSERT INTO hallcall.gaps (hall, after_seq, resumed_seq) VALUES ($1, $2, $3)",
        &[&hall.as_str(), &seq(after), &seq(resumed)],
    )
    .await?;
    set_cursor(
        &tx,
        st,
        hall,
        Cursor {
            seq: resumed,
            day: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(%hall, after, resumed, "archive: events the store no longer held were never archived (a gap)");
    Ok(())
}

/// The report facts of `hall`'s archived days in `from..=to`, except
/// `skip`, merged.
///
/// # Errors
/// PostgreSQL cannot be read, or a day does not read back.
pub async fn parts(
    client: &Client,
    hall: HallId,
    (from, to): (Date, Date),
    skip: &[Date],
) -> Result<Option<Part>, WriteError> {
    let skip: Vec<String> = skip.iter().map(Date::to_string).collect();
    let rows = client
        .query(
            "SELECT day::text, part::text FROM hallcall.report_days
             WHERE hall = $1 AND day BETWEEN $2::text::date AND $3::text::date
               AND NOT (day::text = ANY($4)) ORDER BY day",
            &[&hall.as_str(), &from.to_string(), &to.to_string(), &skip],
        )
        .await?;
    let mut merged: Option<Part> = None;
    for r in rows {
        let part: Part = serde_json::from_str(r.get::<_, &str>(1))
            .map_err(|e| WriteError::Corrupt(format!("report day {} of {hall}: {e}", r.get::<_, &str>(0))))?;
        match &mut merged {
            Some(m) => m.merge(part),
            None => merged = Some(part),
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_times_are_sent_as_postgresql_counts_them() {
        assert_eq!(day(jiff::civil::date(2000, 1, 1)), 0);
        assert_eq!(day(jiff::civil::date(1999, 12, 31)), -1);
        // 2000 and 2024 were leap years.
        assert_eq!(day(jiff::civil::date(2026, 12, 7)), 9837);
        assert_eq!(time(Millis(1_500)), UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(time(Millis(-1_500)), UNIX_EPOCH - Duration::from_millis(1_500));
    }
}
