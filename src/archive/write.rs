//! The archive's SQL. Each run of a hall's events is written in one
//! transaction together with the hall's cursor, after checking that the
//! cursor is where this process left it: a crash on either side leaves the
//! events either all archived or not at all, and a restart goes on from
//! the cursor, so each (hall, seq) is archived exactly once.

use std::collections::HashMap;

use jiff::civil::Date;
use tokio_postgres::{Client, Statement, Transaction};

use super::rows::{RatingRow, Rows, SpellRow};
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
    lock_cursor: Statement,
    events: Statement,
    tickets: Statement,
    ratings: Statement,
    follow_ups: Statement,
    sessions: Statement,
    pauses: Statement,
    cursor: Statement,
}

const EVENTS: &str = "INSERT INTO hallcall.events (hall, seq, at_ms, at, day, kind, body)
     SELECT $1, s, a, to_timestamp(a / 1000.0), d::date, k, b::jsonb
     FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS x(s, a, d, k, b)";

const TICKETS: &str = "INSERT INTO hallcall.tickets AS t (hall, day, number, zone, service, lane, category,
         channel, issued_at, first_called_at, calls, recalls, skips, transfers, started_at, finished_at,
         window_no, staff, outcome)
     SELECT $1, d::date, n, z, s, l, c, ch, to_timestamp(i / 1000.0), to_timestamp(f / 1000.0), k, r, sk, tr,
         to_timestamp(st / 1000.0), to_timestamp(fi / 1000.0), w, sf, o
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::bigint[], $10::bigint[], $11::int[], $12::int[], $13::int[], $14::int[], $15::bigint[],
         $16::bigint[], $17::int[], $18::text[], $19::text[])
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
     SELECT $1, d::date, n, w, sf, l, b, c, to_timestamp(a / 1000.0)
     FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::bigint[])
         AS x(d, n, w, sf, l, b, c, a)
     ON CONFLICT (hall, day, number) DO UPDATE SET window_no = EXCLUDED.window_no,
         staff = EXCLUDED.staff, level = EXCLUDED.level, bad = EXCLUDED.bad,
         comment = EXCLUDED.comment, rated_at = EXCLUDED.rated_at";

const FOLLOW_UPS: &str = "INSERT INTO hallcall.follow_ups (hall, seq, day, number, step, note, recorded_at)
     SELECT $1, s, d::date, n, st, no, to_timestamp(a / 1000.0)
     FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS x(s, d, n, st, no, a)";

const SESSIONS: &str = "INSERT INTO hallcall.window_sessions (hall, day, window_no, staff, opened_at, closed_at)
     SELECT $1, d::date, w, sf, to_timestamp(f / 1000.0), to_timestamp(u / 1000.0)
     FROM unnest($2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[]) AS x(d, w, sf, f, u)
     ON CONFLICT (hall, window_no, opened_at) DO UPDATE SET staff = EXCLUDED.staff,
         closed_at = EXCLUDED.closed_at";

const PAUSES: &str = "INSERT INTO hallcall.window_pauses (hall, day, window_no, staff, reason, started_at, ended_at)
     SELECT $1, d::date, w, sf, r, to_timestamp(f / 1000.0), to_timestamp(u / 1000.0)
     FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS x(d, w, sf, r, f, u)
     ON CONFLICT (hall, window_no, started_at) DO UPDATE SET staff = EXCLUDED.staff,
         reason = EXCLUDED.reason, ended_at = EXCLUDED.ended_at";

const CURSOR: &str = "INSERT INTO hallcall.cursors (hall, seq, day, day_seq, updated_at)
     VALUES ($1, $2, $3::text::date, $4, now())
     ON CONFLICT (hall) DO UPDATE SET seq = EXCLUDED.seq, day = EXCLUDED.day,
         day_seq = EXCLUDED.day_seq, updated_at = now()";

impl Statements {
    /// # Errors
    /// PostgreSQL refused to prepare them (a schema this build does not know).
    pub async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            lock_cursor: client
                .prepare("SELECT seq FROM hallcall.cursors WHERE hall = $1 FOR UPDATE")
                .await?,
            events: client.prepare(EVENTS).await?,
            tickets: client.prepare(TICKETS).await?,
            ratings: client.prepare(RATINGS).await?,
            follow_ups: client.prepare(FOLLOW_UPS).await?,
            sessions: client.prepare(SESSIONS).await?,
            pauses: client.prepare(PAUSES).await?,
            cursor: client.prepare(CURSOR).await?,
        })
    }
}

fn ms(m: Option<Millis>) -> Option<i64> {
    m.map(|m| m.0)
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
            "SELECT seq, at_ms, body::text FROM hallcall.events
             WHERE hall = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
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

/// Writes each run's rows of its hall and moves the hall's cursor from what
/// it expects to where the run ends, all in one transaction.
///
/// # Errors
/// PostgreSQL failed (nothing was written), or the cursor was elsewhere.
pub async fn write(
    client: &mut Client,
    st: &Statements,
    runs: &[(HallId, u64, Cursor, &Rows)],
) -> Result<(), WriteError> {
    let tx = client.transaction().await?;
    // In order: a hall's second run checks the cursor its first moved.
    for &(hall, expected, to, rows) in runs {
        check_cursor(&tx, st, hall, expected).await?;
        write_rows(&tx, st, hall, rows).await?;
        set_cursor(&tx, st, hall, to).await?;
    }
    tx.commit().await?;
    Ok(())
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

async fn write_rows(tx: &Transaction<'_>, st: &Statements, hall: HallId, rows: &Rows) -> Result<(), WriteError> {
    let h = hall.as_str();
    if !rows.events.is_empty() {
        let e = &rows.events;
        let seqs: Vec<i64> = e.iter().map(|r| seq(r.seq)).collect();
        let ats: Vec<i64> = e.iter().map(|r| r.at.0).collect();
        let days: Vec<Option<String>> = e.iter().map(|r| r.day.map(|d| d.to_string())).collect();
        let kinds: Vec<&str> = e.iter().map(|r| r.kind.as_str()).collect();
        let bodies: Vec<&str> = e.iter().map(|r| r.body.as_str()).collect();
        tx.execute(&st.events, &[&h, &seqs, &ats, &days, &kinds, &bodies])
            .await?;
    }
    if !rows.tickets.is_empty() {
        let t: Vec<_> = rows.tickets.values().collect();
        let day: Vec<String> = t.iter().map(|r| r.day.to_string()).collect();
        let number: Vec<String> = t.iter().map(|r| r.number.to_string()).collect();
        let zone: Vec<&str> = t.iter().map(|r| r.zone.as_str()).collect();
        let service: Vec<&str> = t.iter().map(|r| r.service.as_str()).collect();
        let lane: Vec<&str> = t.iter().map(|r| r.lane).collect();
        let category: Vec<Option<&str>> = t.iter().map(|r| r.category.as_deref()).collect();
        let channel: Vec<&str> = t.iter().map(|r| r.channel.as_str()).collect();
        let issued: Vec<i64> = t.iter().map(|r| r.issued_at.0).collect();
        let first: Vec<Option<i64>> = t.iter().map(|r| ms(r.first_called_at)).collect();
        let calls: Vec<i32> = t.iter().map(|r| r.calls).collect();
        let recalls: Vec<i32> = t.iter().map(|r| r.recalls).collect();
        let skips: Vec<i32> = t.iter().map(|r| r.skips).collect();
        let transfers: Vec<i32> = t.iter().map(|r| r.transfers).collect();
        let started: Vec<Option<i64>> = t.iter().map(|r| ms(r.started_at)).collect();
        let finished: Vec<Option<i64>> = t.iter().map(|r| ms(r.finished_at)).collect();
        let window: Vec<Option<i32>> = t.iter().map(|r| r.window.map(i32::from)).collect();
        let staff: Vec<Option<&str>> = t.iter().map(|r| r.staff.as_deref()).collect();
        let outcome: Vec<&str> = t.iter().map(|r| r.outcome.as_str()).collect();
        tx.execute(
            &st.tickets,
            &[
                &h, &day, &number, &zone, &service, &lane, &category, &channel, &issued, &first, &calls, &recalls,
                &skips, &transfers, &started, &finished, &window, &staff, &outcome,
            ],
        )
        .await?;
    }
    if !rows.ratings.is_empty() {
        // One row per ticket in a statement (ON CONFLICT touches a row
        // once): the latest rating of a ticket in the run wins.
        let mut latest: HashMap<(Date, TicketNumber), &RatingRow> = HashMap::new();
        for r in &rows.ratings {
            latest.insert((r.day, r.number), r);
        }
        let r: Vec<&RatingRow> = latest.into_values().collect();
        let day: Vec<String> = r.iter().map(|r| r.day.to_string()).collect();
        let number: Vec<String> = r.iter().map(|r| r.number.to_string()).collect();
        let window: Vec<i32> = r.iter().map(|r| i32::from(r.window)).collect();
        let staff: Vec<Option<&str>> = r.iter().map(|r| r.staff.as_deref()).collect();
        let level: Vec<&str> = r.iter().map(|r| r.level.as_str()).collect();
        let bad: Vec<bool> = r
            .iter()
            .map(|r| matches!(r.level.as_str(), "dissatisfied" | "very_dissatisfied"))
            .collect();
        let comment: Vec<Option<&str>> = r.iter().map(|r| r.comment.as_deref()).collect();
        let at: Vec<i64> = r.iter().map(|r| r.at.0).collect();
        tx.execute(
            &st.ratings,
            &[&h, &day, &number, &window, &staff, &level, &bad, &comment, &at],
        )
        .await?;
    }
    if !rows.follow_ups.is_empty() {
        let f = &rows.follow_ups;
        let seqs: Vec<i64> = f.iter().map(|f| seq(f.seq)).collect();
        let day: Vec<String> = f.iter().map(|f| f.day.to_string()).collect();
        let number: Vec<String> = f.iter().map(|f| f.number.to_string()).collect();
        let step: Vec<&str> = f.iter().map(|f| f.step.as_str()).collect();
        let note: Vec<&str> = f.iter().map(|f| f.note.as_str()).collect();
        let at: Vec<i64> = f.iter().map(|f| f.at.0).collect();
        tx.execute(&st.follow_ups, &[&h, &seqs, &day, &number, &step, &note, &at])
            .await?;
    }
    for (spells, statement, pauses) in [(&rows.sessions, &st.sessions, false), (&rows.pauses, &st.pauses, true)] {
        if spells.is_empty() {
            continue;
        }
        let s: Vec<&SpellRow> = spells.values().collect();
        let day: Vec<String> = s.iter().map(|s| s.day.to_string()).collect();
        let window: Vec<i32> = s.iter().map(|s| i32::from(s.window)).collect();
        let staff: Vec<Option<&str>> = s.iter().map(|s| s.staff.as_deref()).collect();
        let from: Vec<i64> = s.iter().map(|s| s.from.0).collect();
        let until: Vec<Option<i64>> = s.iter().map(|s| ms(s.until)).collect();
        if pauses {
            let reason: Vec<&str> = s.iter().map(|s| s.reason.as_deref().unwrap_or("other")).collect();
            tx.execute(statement, &[&h, &day, &window, &staff, &reason, &from, &until])
                .await?;
        } else {
            tx.execute(statement, &[&h, &day, &window, &staff, &from, &until])
                .await?;
        }
    }
    for (day, part) in &rows.days {
        let json = serde_json::to_string(part).map_err(|e| WriteError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO hallcall.report_days (hall, day, part) VALUES ($1, $2::text::date, $3::text::jsonb)
             ON CONFLICT (hall, day) DO UPDATE SET part = EXCLUDED.part",
            &[&h, &day.to_string(), &json],
        )
        .await?;
    }
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
    let moved = tx
        .execute(
            "WITH gone AS (DELETE FROM hallcall.events WHERE hall = $1 AND seq > $2 RETURNING *)
             INSERT INTO hallcall.superseded_events SELECT *, now() FROM gone",
            &[&hall.as_str(), &seq(to)],
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
