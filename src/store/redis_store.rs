//! The Redis store: one stream of events per hall, a snapshot per hall and
//! the shared ticket number counters.
//!
//! ```text
//! PREFIX:{HALL}:events    stream, one entry per hall per batch: id LAST-0 (the
//!                       batch's last event), field `e` = JSON array of events
//! PREFIX:{HALL}:last      string, the sequence number of the hall's last event
//! PREFIX:{HALL}:days      hash, business day (YYYY-MM-DD) -> seq of its DayStarted
//! PREFIX:{HALL}:snapshot  string, HallSnapshot JSON
//! PREFIX:{HALL}:epochs    list, the log's incarnations: EPOCH:FIRST-SEQ
//! PREFIX:{HALL}:num:DAY:ZONE  integer counter, expires 3 days after last use
//! ```
//!
//! An append is one Lua script, so one round trip and all or nothing: it
//! checks that every hall's batch continues that hall's log (`last`) before
//! it writes anything. Two processes appending to one hall therefore
//! cannot interleave: the second one is refused with
//! [`StoreError::OutOfOrder`].
//!
//! Durability is Redis's: only with `appendonly yes` and `appendfsync
//! always` is an acknowledged append on disk (see
//! [`RedisStore::persistence_warning`]).
//!
//! Every method takes `&self` and may be called from many tasks. Two
//! connections, each multiplexed and re-established by itself after Redis
//! comes back (the first call or two after that may still fail): one for
//! appends only, so that batches sent back to back arrive in order, and
//! one for everything else.

use redis::{RedisError, RedisResult, Value};

pub use self::conn::{Conn, Target, redacted};
use super::epoch::{EPOCHS_KEPT, Epoch, Epochs};
use super::{NumberKey, Recovered, StoreError};
use jiff::civil::Date;

use crate::engine::{Code, Event, EventKind, HallId, HallSnapshot};

/// Key prefix used unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "hallcall";
/// Days of events kept behind the snapshot for reports, unless configured.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// A hall's keys before they carried its hash tag.
const LEGACY_KEYS: [&str; 5] = ["events", "last", "days", "snapshot", "epochs"];
/// Stream entries read per XRANGE call.
const PAGE: usize = 10_000;
/// Number counters outlive their day by a little, then go away.
const NUMBER_TTL_SECS: i64 = 3 * 24 * 3600;

/// Takes a zone's next number, never at or below the log's last (ARGV 1);
/// sets the counter's expiry (ARGV 2) with the day's first number, every
/// 256th (in case a process stopped between the two before scripts did
/// both) and on a repair. KEYS: the counter. Returns {number, the counter
/// as it was when it had to be moved past the log, else -1}.
const NUMBER: &str = r"
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
local was = -1
if n <= floor then
  was = n - 1
  n = floor + 1
  redis.call('SET', KEYS[1], n)
end
if n == 1 or n % 256 == 0 or was >= 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return {n, was}
";

/// Error codes the append script returns (the first word of its error).
const OUT_OF_ORDER: &str = "HALLCALL_OUTOFORDER";
const CORRUPT: &str = "HALLCALL_CORRUPT";
const FENCED: &str = "HALLCALL_FENCED";

/// Appends events to one or more halls, all or nothing.
///
/// KEYS, four per hall: events stream, last-seq string, days hash, fence.
/// ARGV, per hall: hall, prev (= first - 1), first, last, n, ndays, fence
/// (the owner's epoch, or empty when no node owns halls), then n pairs
/// (entry id, JSON array of events), then ndays pairs (day, seq); last of
/// all, the channel on which "HALL LAST" is published for each hall
/// written, so other nodes read the new events at once.
///
/// The fence is checked in the same script as the append: a node that
/// lost a hall's lease (paused, cut off, slow) and was replaced holds an
/// epoch below the hall's current one, and every write it still sends is
/// refused, whatever it believes about its lease.
/// hallcall sends one pair per hall: a batch's events are one entry, so
/// the script's work grows with the halls in a batch, not its events.
///
/// A Lua script that fails part way is not rolled back, so everything that
/// could make a write fail (wrong key types, a stream already past the
/// new ids) is checked before the first write. Numbers come in as strings:
/// Lua's doubles print large integers in exponent notation.
///
/// Sent as `EVAL` with its text, not `EVALSHA`: a call is then always one
/// request, even to a Redis that restarted and forgot its scripts, so
/// appends sent back to back reach Redis in the order they were sent.
/// (Redis caches the compiled script by its hash either way.)
const APPEND: &str = r#"
local function corrupt(k, problem)
  return redis.error_reply('HALLCALL_CORRUPT ' .. k .. ' ' .. problem)
end
local halls = #KEYS / 4
local starts = {}
local known = {}
local p = 1
for h = 1, halls do
  local ek, lk, dk, fk = 4 * h - 3, 4 * h - 2, 4 * h - 1, 4 * h
  starts[h] = p
  if ARGV[p + 6] ~= '' then
    local fence = redis.call('GET', KEYS[fk]) or '0'
    if fence ~= ARGV[p + 6] then
      return redis.error_reply('HALLCALL_FENCED ' .. ARGV[p] .. ' ' .. ARGV[p + 6] .. ' ' .. fence)
    end
  end
  local stored = known[KEYS[lk]]
  if stored == nil then
    local t = redis.call('TYPE', KEYS[ek])['ok']
    if t ~= 'stream' and t ~= 'none' then return corrupt(ek, 'holds a ' .. t .. ', not a stream') end
    local lt = redis.call('TYPE', KEYS[lk])['ok']
    if lt ~= 'string' and lt ~= 'none' then return corrupt(lk, 'holds a ' .. lt .. ', not a string') end
    local dt = redis.call('TYPE', KEYS[dk])['ok']
    if dt ~= 'hash' and dt ~= 'none' then return corrupt(dk, 'holds a ' .. dt .. ', not a hash') end
    stored = redis.call('GET', KEYS[lk])
    if stored and not string.match(stored, '^%d+$') then
      return corrupt(lk, 'holds "' .. stored .. '", not an event number')
    end
    if t == 'stream' then
      local info = redis.call('XINFO', 'STREAM', KEYS[ek])
      local top = nil
      for i = 1, #info, 2 do
        if info[i] == 'last-generated-id' then top = info[i + 1] end
      end
      local ms = top and string.match(top, '^(%d+)%-%d+$')
      if not ms then return corrupt(ek, 'has no readable last entry id') end
      if not stored then
        stored = ms
      elseif tonumber(ms) > tonumber(stored) then
        return corrupt(ek, 'has entry ' .. top .. ', past event ' .. stored .. ' recorded in ' .. KEYS[lk])
      end
    end
    stored = stored or '0'
  end
  if tonumber(stored) ~= tonumber(ARGV[p + 1]) then
    return redis.error_reply('HALLCALL_OUTOFORDER ' .. ARGV[p] .. ' ' .. stored .. ' ' .. ARGV[p + 2])
  end
  known[KEYS[lk]] = ARGV[p + 3]
  p = p + 7 + 2 * tonumber(ARGV[p + 4]) + 2 * tonumber(ARGV[p + 5])
end
local written = 0
for h = 1, halls do
  local ek, lk, dk = 4 * h - 3, 4 * h - 2, 4 * h - 1
  p = starts[h]
  local n, nd = tonumber(ARGV[p + 4]), tonumber(ARGV[p + 5])
  local q = p + 7
  for i = 1, n do
    redis.call('XADD', KEYS[ek], ARGV[q], 'e', ARGV[q + 1])
    q = q + 2
  end
  redis.call('SET', KEYS[lk], ARGV[p + 3])
  for i = 1, nd do
    redis.call('HSETNX', KEYS[dk], ARGV[q], ARGV[q + 1])
    q = q + 2
  end
  redis.call('PUBLISH', ARGV[#ARGV], ARGV[p] .. ' ' .. ARGV[p + 3])
  written = written + n
end
return written
"#;

/// One hall's part of an append script call (see [`APPEND`] for the order).
struct HallArgs {
    hall: HallId,
    prev: u64,
    first: u64,
    last: u64,
    /// Business days started in the batch, with their DayStarted's number.
    days: Vec<(String, u64)>,
    /// The owner's epoch the script checks, if halls have owners.
    fence: Option<u64>,
    json: Vec<u8>,
}

/// The Redis backend. Cloning is cheap and clones share the connections.
#[derive(Clone, Debug)]
pub struct RedisStore {
    conn: Conn,
    /// Appends only, on a connection of their own: the writer sends the
    /// next batch before the last one is answered, and relies on each
    /// reaching Redis in the order sent. On a connection shared with every
    /// request's `INCR`, the connection's queue can be full when one batch
    /// is sent and have room again for the next, which then overtakes it.
    appends: Conn,
    prefix: String,
    target: Target,
    retention_days: u32,
    /// The epochs this node holds its halls under (see [`Fences`]).
    fences: Fences,
}

/// The epoch under which this node owns each hall, shared by the cluster's
/// lease keeper (which sets them) and the store (which sends them with
/// each append). Off by default: a store no lease keeper uses appends
/// unchecked, as one process alone may.
#[derive(Clone, Debug, Default)]
pub struct Fences(std::sync::Arc<Fenced>);

#[derive(Debug, Default)]
struct Fenced {
    on: std::sync::atomic::AtomicBool,
    epochs: dashmap::DashMap<HallId, u64>,
}

impl Fences {
    /// From now on every append must carry its hall's epoch; a hall
    /// without one is refused here, before Redis.
    pub fn require(&self) {
        self.0.on.store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_required(&self) -> bool {
        self.0.on.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn set(&self, hall: HallId, epoch: u64) {
        self.0.epochs.insert(hall, epoch);
    }

    pub fn clear(&self, hall: HallId) {
        self.0.epochs.remove(&hall);
    }

    pub fn get(&self, hall: HallId) -> Option<u64> {
        self.0.epochs.get(&hall).map(|e| *e)
    }
}

impl RedisStore {
    /// Connects to Redis at `url` (`redis://host:port/db`, or
    /// `redis+cluster://host:port,…` for a Redis Cluster), naming every key
    /// `PREFIX:{HALL}:…`. Connection attempts time out after 1 s and
    /// replies after 2 s, so calls fail fast while Redis is down; the
    /// connection is re-established by itself once it is back.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid or Redis cannot
    /// be reached.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let target = Target::parse(url).map_err(StoreError::Unavailable)?;
        let conn = Conn::connect(&target).await?;
        let appends = Conn::connect(&target).await?;
        Ok(RedisStore {
            conn,
            appends,
            prefix: prefix.to_owned(),
            target,
            retention_days: DEFAULT_RETENTION_DAYS,
            fences: Fences::default(),
        })
    }

    /// Where this store's Redis is.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Where each append says which hall it wrote, up to which event.
    pub fn tail_channel(&self) -> String {
        format!("{}:tail", self.prefix)
    }

    /// The epochs appends carry; see [`Fences`].
    pub fn fences(&self) -> &Fences {
        &self.fences
    }

    /// Whether this is a Redis Cluster: a command then touches one hall.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// A connection for commands of the caller's own (the cluster's
    /// leases, the signing secret).
    pub fn connection(&self) -> Conn {
        self.conn.clone()
    }

    /// Keeps `days` business days of events (at least 1) behind each
    /// snapshot, for reports.
    #[must_use]
    pub fn with_retention_days(mut self, days: u32) -> RedisStore {
        self.retention_days = days.max(1);
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A hall's key. The `{HALL}` hash tag puts every key of one hall in
    /// one Redis Cluster slot, so its scripts and transactions may touch
    /// them together.
    pub fn key(&self, hall: HallId, what: &str) -> String {
        hall_key(&self.prefix, hall, what)
    }

    /// Renames the keys of a store written before keys carried the hall's
    /// hash tag (`PREFIX:HALL:…`) to today's names, for the halls given.
    /// Run at open, before anything is read; a key already renamed (by
    /// another process starting beside this one) is left alone. A cluster
    /// never held the old names, and cannot rename across slots.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached.
    pub async fn rename_legacy_keys(&self, halls: &[HallId]) -> Result<usize, StoreError> {
        if self.is_cluster() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        let mut renamed = 0;
        for hall in halls {
            let mut names: Vec<(String, String)> = LEGACY_KEYS
                .iter()
                .map(|what| (format!("{}:{hall}:{what}", self.prefix), self.key(*hall, what)))
                .collect();
            let pattern = format!("{}:{hall}:num:*", self.prefix);
            let mut cursor = 0u64;
            loop {
                let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| unavailable("scan", &pattern, &e))?;
                for old in found {
                    let what = old[self.prefix.len() + hall.as_str().len() + 2..].to_owned();
                    names.push((old, self.key(*hall, &what)));
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            for (old, new) in names {
                let moved: RedisResult<i64> = redis::cmd("RENAMENX").arg(&old).arg(&new).query_async(&mut conn).await;
                match moved {
                    Ok(1) => {
                        tracing::info!(from = %old, to = %new, "renamed a Redis key to carry its hall's hash tag");
                        renamed += 1;
                    }
                    Ok(_) => {
                        return Err(StoreError::corrupt(
                            &old,
                            format!("both {old} and {new} exist: a store written by two versions at once"),
                        ));
                    }
                    // Not there: nothing to rename, or another process did.
                    Err(e) if e.detail().is_some_and(|d| d.contains("no such key")) => {}
                    Err(e) => return Err(unavailable("rename", &old, &e)),
                }
            }
        }
        Ok(renamed)
    }

    /// Writes a batch of events for any number of halls in one round trip,
    /// all or nothing. Each hall's events must continue its stored log.
    ///
    /// # Errors
    /// - [`StoreError::OutOfOrder`]: a hall's events do not follow its last
    ///   stored event (or do not follow each other); nothing was written.
    /// - [`StoreError::Corrupt`]: a hall's keys hold foreign data.
    /// - [`StoreError::Unavailable`]: Redis could not be reached or refused
    ///   the script. After a timeout the batch may or may not have been
    ///   written: [`RedisStore::load`] tells which.
    pub async fn append(&self, batch: &[(HallId, &[Event])]) -> Result<(), StoreError> {
        // One stream entry per hall and batch: the appends of a hall are
        // joined in batch order, so the script's work grows with the halls
        // in the batch, not with its appends.
        let mut halls: Vec<(HallId, Vec<&Event>)> = Vec::new();
        for (hall, events) in batch {
            match halls.iter_mut().find(|(h, _)| h == hall) {
                Some((_, joined)) => joined.extend(events.iter()),
                None => halls.push((*hall, events.iter().collect())),
            }
        }
        // Each hall's keys and arguments are made in one pass, so the two
        // lists cannot fall out of step; encoded before the command is
        // built, so that it goes into one buffer of the right size (a batch
        // is tens of KiB, copied as few times as can be).
        let mut keys = Vec::with_capacity(4 * halls.len());
        let mut args = Vec::with_capacity(halls.len());
        for (hall, events) in &halls {
            let hall = *hall;
            let (Some(first), Some(last)) = (events.first(), events.last()) else {
                continue;
            };
            if let Some(pair) = events.windows(2).find(|w| w[1].seq != w[0].seq.wrapping_add(1)) {
                return Err(StoreError::OutOfOrder {
                    hall,
                    last: pair[0].seq,
                    got: pair[1].seq,
                });
            }
            let Some(prev) = first.seq.checked_sub(1) else {
                return Err(StoreError::OutOfOrder { hall, last: 0, got: 0 });
            };
            let days: Vec<(String, u64)> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::DayStarted { day } => Some((day.to_string(), e.seq)),
                    _ => None,
                })
                .collect();
            let mut json = Vec::with_capacity(events.len() * 160);
            serde_json::to_writer(&mut json, events).map_err(|e| {
                StoreError::Unavailable(format!("cannot encode events {}..{}: {e}", first.seq, last.seq))
            })?;
            let fence = self.fences.get(hall);
            if fence.is_none() && self.fences.is_required() {
                return Err(StoreError::Fenced {
                    hall,
                    held: None,
                    current: None,
                });
            }
            keys.extend(["events", "last", "days", "fence"].map(|what| self.key(hall, what)));
            args.push(HallArgs {
                hall,
                prev,
                first: first.seq,
                last: last.seq,
                days,
                fence,
                json,
            });
        }
        if args.is_empty() {
            return Ok(());
        }
        if self.is_cluster() && args.len() > 1 {
            // Its halls are in different slots: the writer sends them apart.
            return Err(StoreError::Unavailable(
                "an append to a Redis Cluster takes one hall at a time".to_owned(),
            ));
        }
        let bytes = APPEND.len()
            + keys.iter().map(String::len).sum::<usize>()
            + args.iter().map(|a| a.json.len() + 128).sum::<usize>();
        let mut cmd = redis::Cmd::with_capacity(3 + keys.len() + 9 * args.len(), bytes);
        cmd.arg("EVAL").arg(APPEND).arg(keys.len());
        for key in &keys {
            cmd.arg(key);
        }
        for a in args {
            cmd.arg(a.hall.as_str())
                .arg(a.prev)
                .arg(a.first)
                .arg(a.last)
                .arg(1)
                .arg(a.days.len())
                .arg(a.fence.map_or(String::new(), |f| f.to_string()))
                .arg(format!("{}-0", a.last))
                .arg(a.json);
            for (day, seq) in a.days {
                cmd.arg(day).arg(seq);
            }
        }
        cmd.arg(self.tail_channel());
        let mut conn = self.appends.clone();
        match cmd.query_async::<Value>(&mut conn).await {
            Ok(_) => Ok(()),
            Err(e) => Err(script_error(e, &keys)),
        }
    }

    /// Reads a hall back: its snapshot, if any, and every event after it,
    /// checked to be consecutive.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the key (and entry id) that does not
    /// hold hallcall data or leaves a gap; [`StoreError::Unavailable`] when
    /// Redis cannot be reached.
    pub async fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        let snap_key = self.key(hall, "snapshot");
        let last_key = self.key(hall, "last");
        let events_key = self.key(hall, "events");
        let mut conn = self.conn.clone();
        let replies: Vec<RedisResult<Value>> = redis::pipe()
            .ignore_errors()
            .get(&snap_key)
            .get(&last_key)
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable("load", &snap_key, &e))?;
        let mut replies = replies.into_iter();
        let (Some(snap), Some(last)) = (replies.next(), replies.next()) else {
            return Err(StoreError::Unavailable(format!(
                "Redis load {snap_key}: the reply has too few parts"
            )));
        };
        let snap = snap.map_err(|e| failed("load", &snap_key, e))?;
        let last = last.map_err(|e| failed("load", &last_key, e))?;

        let mut out = Recovered::default();
        match snap {
            Value::Nil => {}
            Value::BulkString(bytes) => {
                let snapshot: HallSnapshot = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::corrupt(&snap_key, format!("not a hallcall snapshot: {e}")))?;
                if snapshot.hall != hall {
                    return Err(StoreError::corrupt(
                        &snap_key,
                        format!("holds the snapshot of hall {}", snapshot.hall),
                    ));
                }
                out.snapshot = Some(snapshot);
            }
            other => {
                return Err(StoreError::corrupt(
                    &snap_key,
                    format!("holds {other:?}, not a snapshot"),
                ));
            }
        }
        let recorded_last = match last {
            Value::Nil => None,
            Value::BulkString(bytes) => Some(
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        StoreError::corrupt(
                            &last_key,
                            format!("holds {:?}, not an event number", String::from_utf8_lossy(&bytes)),
                        )
                    })?,
            ),
            other => {
                return Err(StoreError::corrupt(
                    &last_key,
                    format!("holds {other:?}, not an event number"),
                ));
            }
        };

        let snap_seq = out.snapshot.as_ref().map_or(0, |s| s.seq);
        let mut events = Vec::new();
        read_range(&mut conn, &events_key, snap_seq + 1, None, &mut |e| {
            events.push(e);
            Ok(())
        })
        .await?;
        out.events = events;
        // Events appended by another process since `last` was read are
        // fine; fewer events than `last` records means some were lost.
        if let Some(recorded) = recorded_last
            && recorded > out.last_seq()
        {
            return Err(StoreError::corrupt(
                &last_key,
                format!(
                    "records event {recorded} as the last, but {events_key} ends at event {}",
                    out.last_seq()
                ),
            ));
        }
        Ok(out)
    }

    /// The events of the business days `from..=to` that the stream still
    /// holds (retention keeps the last `retention_days`), in order. Days
    /// are found through the `days` hash.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached,
    /// [`StoreError::Corrupt`] when the keys hold foreign data.
    pub async fn read_days(&self, hall: HallId, from: Date, to: Date) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        self.scan_days(hall, from, to, |e| {
            out.push(e);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Hands the same events to `f` one by one, in order, a page of the
    /// stream at a time: a long range costs no more memory than a page.
    ///
    /// # Errors
    /// As for [`RedisStore::read_days`], or `f` refuses an event (its
    /// message, with the entry).
    pub async fn scan_days(
        &self,
        hall: HallId,
        from: Date,
        to: Date,
        mut f: impl FnMut(Event) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let days_key = self.key(hall, "days");
        let events_key = self.key(hall, "events");
        let mut conn = self.conn.clone();
        let days: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&days_key)
            .query_async(&mut conn)
            .await
            .map_err(|e| failed("read days", &days_key, e))?;
        let mut first = None;
        let mut stop = None;
        for (day, seq) in days {
            let parsed = day.parse::<Date>().ok().zip(seq.parse::<u64>().ok());
            let (day, seq) = parsed.ok_or_else(|| {
                StoreError::corrupt(
                    &days_key,
                    format!("holds {day:?} = {seq:?}, not a day and an event number"),
                )
            })?;
            if from <= day && day <= to {
                first = Some(first.map_or(seq, |f: u64| f.min(seq)));
            } else if day > to {
                stop = Some(stop.map_or(seq, |s: u64| s.min(seq)));
            }
        }
        match first {
            Some(first) => read_range(&mut conn, &events_key, first, stop, &mut f).await,
            None => Ok(()),
        }
    }

    /// The hall's events after `since`, in order, at most about `enough`
    /// of them; `None` when the stream no longer holds the first of them
    /// (trimmed behind a snapshot).
    ///
    /// # Errors
    /// As for [`RedisStore::read_days`].
    pub async fn read_since(&self, hall: HallId, since: u64, enough: usize) -> Result<Option<Vec<Event>>, StoreError> {
        let events_key = self.key(hall, "events");
        let mut conn = self.conn.clone();
        // An entry's id is its last event: the first entry with an id past
        // `since` holds event `since + 1`, unless it was trimmed.
        let reply: Value = redis::cmd("XRANGE")
            .arg(&events_key)
            .arg(format!("{}-0", since + 1))
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(|e| failed("read", &events_key, e))?;
        let Value::Array(first) = reply else {
            return Ok(Some(Vec::new()));
        };
        let Some(entry) = first.into_iter().next() else {
            return Ok(Some(Vec::new()));
        };
        let (id, fields) = split_entry(entry)
            .ok_or_else(|| StoreError::corrupt(&events_key, "XRANGE answered an entry that is not [id, fields]"))?;
        let place = format!("{events_key} entry {id}");
        let json = field(&fields, b"e").ok_or_else(|| StoreError::corrupt(&place, "no `e` field"))?;
        let batch: Vec<Event> = serde_json::from_slice(json)
            .map_err(|e| StoreError::corrupt(&place, format!("not a batch of hallcall events: {e}")))?;
        if batch.first().is_none_or(|e| e.seq > since + 1) {
            return Ok(None);
        }
        let mut out = Vec::new();
        let stop = u64::try_from(enough)
            .ok()
            .and_then(|n| since.checked_add(1)?.checked_add(n));
        read_range(&mut conn, &events_key, since + 1, stop, &mut |e| {
            out.push(e);
            Ok(())
        })
        .await?;
        Ok(Some(out))
    }

    /// The hall's log incarnations (`PREFIX:{HALL}:epochs`, a list of
    /// `EPOCH:FIRST`), oldest first.
    ///
    /// # Errors
    /// Redis cannot be reached, or the key holds something else.
    pub async fn epochs(&self, hall: HallId) -> Result<Epochs, StoreError> {
        let key = self.key(hall, "epochs");
        let mut conn = self.conn.clone();
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(|e| failed("read epochs", &key, e))?;
        let mut out = Epochs::default();
        for item in items {
            let parsed = item
                .split_once(':')
                .and_then(|(e, f)| Some((e.parse::<Epoch>().ok()?, f.parse::<u64>().ok()?)));
            let (epoch, first) =
                parsed.ok_or_else(|| StoreError::corrupt(&key, format!("holds {item:?}, not EPOCH:FIRST")))?;
            out.0.push((epoch, first));
        }
        Ok(out)
    }

    /// Records a new incarnation of the hall's log, keeping the last
    /// [`EPOCHS_KEPT`].
    ///
    /// # Errors
    /// Redis cannot be reached, or the key holds something else.
    pub async fn begin_epoch(&self, hall: HallId, epoch: Epoch, first: u64) -> Result<(), StoreError> {
        let key = self.key(hall, "epochs");
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .rpush(&key, format!("{epoch}:{first}"))
            .ignore()
            .ltrim(&key, -(EPOCHS_KEPT as isize), -1)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| failed("record an epoch", &key, e))
    }

    /// Stores a hall's snapshot, then trims its stream: entries up to the
    /// snapshot go unless they belong to one of the last `retention_days`
    /// business days (counted back from the snapshot's day). Nothing after
    /// the snapshot is ever trimmed.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the hall's keys hold foreign data (the
    /// snapshot may then be stored but the stream not trimmed);
    /// [`StoreError::Unavailable`] when Redis cannot be reached.
    pub async fn write_snapshot(&self, snap: &HallSnapshot) -> Result<(), StoreError> {
        let snap_key = self.key(snap.hall, "snapshot");
        let events_key = self.key(snap.hall, "events");
        let days_key = self.key(snap.hall, "days");
        let json =
            serde_json::to_vec(snap).map_err(|e| StoreError::Unavailable(format!("cannot encode snapshot: {e}")))?;
        let mut conn = self.conn.clone();
        let reply: Value = redis::cmd("HGETALL")
            .arg(&days_key)
            .query_async(&mut conn)
            .await
            .map_err(|e| failed("snapshot", &days_key, e))?;
        let pairs = pairs(reply)
            .ok_or_else(|| StoreError::corrupt(&days_key, "HGETALL answered something else than field-value pairs"))?;
        let mut days = Vec::with_capacity(pairs.len());
        for (field, value) in pairs {
            let name = String::from_utf8_lossy(&field).into_owned();
            let place = format!("{days_key} field {name}");
            let day: jiff::civil::Date = name
                .parse()
                .map_err(|_| StoreError::corrupt(&place, "not a date (YYYY-MM-DD)"))?;
            let seq: u64 = std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| StoreError::corrupt(&place, "not an event number"))?;
            days.push((day, seq, name));
        }
        let plan = trim_plan(snap, &days, self.retention_days);

        let mut pipe = redis::pipe();
        pipe.atomic().ignore_errors();
        pipe.set(&snap_key, json);
        pipe.cmd("XTRIM")
            .arg(&events_key)
            .arg("MINID")
            .arg(format!("{}-0", plan.min_id));
        if !plan.old_days.is_empty() {
            pipe.cmd("HDEL").arg(&days_key).arg(&plan.old_days);
        }
        let replies: Vec<RedisResult<Value>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable("snapshot", &snap_key, &e))?;
        for (reply, key) in replies.into_iter().zip([&snap_key, &events_key, &days_key]) {
            reply.map_err(|e| failed("snapshot", key, e))?;
        }
        Ok(())
    }

    /// Takes the next ticket number of a zone and day. The counter lives in
    /// Redis, so processes sharing it never hand out the same number.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the counter key holds something other
    /// than a number in range; [`StoreError::Unavailable`] otherwise.
    pub async fn allocate_number(&self, key: NumberKey) -> Result<u32, StoreError> {
        self.allocate_number_after(key, 0).await
    }

    /// As [`RedisStore::allocate_number`], never at or below `floor`: the
    /// last number of the zone and day that the hall's log holds. A
    /// counter behind it (a Redis failover to a replica that had not yet
    /// received the last numbers, a restore from an older backup) would
    /// print a number a second time; it is moved past the log instead,
    /// and the repair logged.
    ///
    /// # Errors
    /// As for [`RedisStore::allocate_number`].
    pub async fn allocate_number_after(&self, key: NumberKey, floor: u32) -> Result<u32, StoreError> {
        let counter = self.key(key.hall, &format!("num:{}:{}", key.day, key.zone));
        let mut conn = self.conn.clone();
        let reply: Result<Vec<i64>, RedisError> = redis::cmd("EVAL")
            .arg(NUMBER)
            .arg(1)
            .arg(&counter)
            .arg(floor)
            .arg(NUMBER_TTL_SECS)
            .query_async(&mut conn)
            .await;
        let (n, was) = match reply.as_deref() {
            Ok([n, was]) => (*n, *was),
            Ok(other) => {
                return Err(StoreError::corrupt(
                    &counter,
                    format!("the number script answered {other:?}"),
                ));
            }
            Err(e) if e.detail().is_some_and(|d| d.contains("not an integer")) => {
                return Err(StoreError::corrupt(&counter, format!("does not hold a number: {e}")));
            }
            Err(e) => return Err(failed("allocate number", &counter, e.clone())),
        };
        if was >= 0 {
            tracing::warn!(
                key = %counter, counter = was, log = floor, now = n,
                "a ticket counter in Redis was behind the hall's log (lost writes after a failover or restore?): moved past it so no number is printed twice"
            );
        }
        u32::try_from(n).map_err(|_| StoreError::corrupt(&counter, format!("counter reached {n}")))
    }

    /// Checks that Redis answers, on both connections (a ping also makes
    /// a dropped one connect again, so the next append finds it up).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        for conn in [&self.conn, &self.appends] {
            let mut conn = conn.clone();
            let reply: String = redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::Unavailable(format!("Redis PING: {e}")))?;
            if reply != "PONG" {
                return Err(StoreError::Unavailable(format!("Redis answered PING with {reply:?}")));
            }
        }
        Ok(())
    }

    /// A sentence for the log when Redis's settings let acknowledged writes
    /// be lost: nothing kept on disk, only RDB snapshots, or an AOF that is
    /// not fsynced before each reply. `None` when every write is on disk
    /// before Redis acknowledges it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached. A server
    /// that refuses `CONFIG GET` gives `Some("cannot check persistence: …")`.
    pub async fn persistence_warning(&self) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let replies: Vec<RedisResult<Value>> = redis::pipe()
            .ignore_errors()
            .cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .cmd("CONFIG")
            .arg("GET")
            .arg("appendfsync")
            .cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis CONFIG GET: {e}")))?;
        let mut settings = Vec::new();
        for (reply, name) in replies.into_iter().zip(["appendonly", "appendfsync", "save"]) {
            let value = match reply {
                Ok(value) => value,
                Err(e) => return Ok(Some(format!("cannot check persistence: CONFIG GET {name} failed: {e}"))),
            };
            let found = pairs(value)
                .and_then(|p| p.into_iter().find(|(k, _)| k == name.as_bytes()))
                .map(|(_, v)| String::from_utf8_lossy(&v).into_owned());
            match found {
                Some(v) => settings.push(v),
                None => {
                    return Ok(Some(format!(
                        "cannot check persistence: CONFIG GET {name} returned no value"
                    )));
                }
            }
        }
        let [appendonly, appendfsync, save] = <[String; 3]>::try_from(settings)
            .map_err(|_| StoreError::Unavailable("Redis CONFIG GET: short reply".to_owned()))?;
        Ok(persistence_sentence(&appendonly, &appendfsync, &save))
    }
}

/// What to say about Redis persistence settings, if anything.
fn persistence_sentence(appendonly: &str, appendfsync: &str, save: &str) -> Option<String> {
    const FIX: &str = "set appendonly yes and appendfsync always";
    if appendonly != "yes" {
        if save.trim().is_empty() {
            return Some(format!(
                "Redis keeps nothing on disk (appendonly {appendonly}, save \"\"): if Redis restarts, \
                 every hall's events, snapshots and ticket numbers are lost; {FIX}"
            ));
        }
        return Some(format!(
            "Redis keeps only RDB snapshots (appendonly {appendonly}, save \"{save}\"): if Redis stops \
             unexpectedly, writes since its last snapshot are lost although hallcall acknowledged them; {FIX}"
        ));
    }
    if appendfsync != "always" {
        return Some(format!(
            "Redis fsyncs its append-only file with appendfsync {appendfsync}, not before each reply: \
             writes hallcall acknowledged can be lost if the Redis host crashes or loses power; \
             appendfsync always fixes this"
        ));
    }
    None
}

/// How far to trim a hall's stream after a snapshot.
#[derive(Debug, PartialEq, Eq)]
struct TrimPlan {
    /// XTRIM MINID: the first sequence number kept.
    min_id: u64,
    /// `days` hash fields past retention.
    old_days: Vec<String>,
}

/// Keeps every event after the snapshot and every event of the newest
/// `retention_days` business days, counted back from the snapshot's day
/// (or the newest recorded day when the snapshot has none).
fn trim_plan(snap: &HallSnapshot, days: &[(jiff::civil::Date, u64, String)], retention_days: u32) -> TrimPlan {
    let after_snapshot = snap.seq + 1;
    let newest = snap.day.into_iter().chain(days.iter().map(|d| d.0)).max();
    let cutoff = newest.map(|d| {
        d.checked_sub(jiff::Span::new().days(i64::from(retention_days.max(1)) - 1))
            .unwrap_or(jiff::civil::Date::MIN)
    });
    let retained = |day: jiff::civil::Date| cutoff.is_none_or(|c| day >= c);
    let oldest_retained = days.iter().filter(|d| retained(d.0)).map(|d| d.1).min();
    TrimPlan {
        min_id: oldest_retained.map_or(after_snapshot, |s| s.min(after_snapshot)),
        old_days: days.iter().filter(|d| !retained(d.0)).map(|d| d.2.clone()).collect(),
    }
}

/// Turns an append script failure into a store error.
fn script_error(e: RedisError, keys: &[String]) -> StoreError {
    let detail = e.detail().unwrap_or("");
    match e.code() {
        Some(OUT_OF_ORDER) => {
            let mut words = detail.split_whitespace();
            let hall = words.next().and_then(|h| Code::new(h).ok());
            let last = words.next().and_then(|n| n.parse().ok());
            let got = words.next().and_then(|n| n.parse().ok());
            match (hall, last, got) {
                (Some(hall), Some(last), Some(got)) => StoreError::OutOfOrder { hall, last, got },
                _ => StoreError::Unavailable(format!("Redis append: unreadable refusal: {e}")),
            }
        }
        Some(FENCED) => {
            let mut words = detail.split_whitespace();
            let hall = words.next().and_then(|h| Code::new(h).ok());
            let held = words.next().and_then(|n| n.parse().ok());
            let current = words.next().and_then(|n| n.parse().ok());
            match hall {
                Some(hall) => StoreError::Fenced { hall, held, current },
                None => StoreError::Unavailable(format!("Redis append: unreadable refusal: {e}")),
            }
        }
        Some(CORRUPT) => {
            let (index, problem) = detail.split_once(' ').unwrap_or((detail, ""));
            let key = index.parse::<usize>().ok().and_then(|i| keys.get(i.wrapping_sub(1)));
            match key {
                Some(key) => StoreError::corrupt(key.clone(), problem),
                None => StoreError::corrupt(keys.join(", "), detail),
            }
        }
        _ => StoreError::Unavailable(format!(
            "Redis append to {}: {e}",
            keys.first().map_or("", String::as_str)
        )),
    }
}

/// A command on `key` failed: foreign data is corruption, the rest means
/// Redis is unavailable.
fn failed(what: &str, key: &str, e: RedisError) -> StoreError {
    if e.code() == Some("WRONGTYPE") {
        StoreError::corrupt(key, "holds another kind of Redis value than hallcall keeps there")
    } else {
        unavailable(what, key, &e)
    }
}

fn unavailable(what: &str, key: &str, e: &RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis {what} {key}: {e}"))
}

/// A stream entry id of the form `SEQ-0`.
fn parse_entry_id(id: &str) -> Option<u64> {
    let (ms, seq) = id.split_once('-')?;
    (seq == "0").then_some(())?;
    ms.parse().ok()
}

/// `[id, [field, value, …]]` from an XRANGE reply.
fn split_entry(entry: Value) -> Option<(String, Fields)> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let mut parts = parts.into_iter();
    let id = match parts.next()? {
        Value::BulkString(b) => String::from_utf8(b).ok()?,
        Value::SimpleString(s) => s,
        _ => return None,
    };
    let fields = pairs(parts.next()?)?;
    parts.next().is_none().then_some((id, fields))
}

/// Field-value pairs of a hash or stream entry.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Field-value pairs from a flat array (RESP2) or a map (RESP3).
fn pairs(value: Value) -> Option<Fields> {
    match value {
        Value::Nil => Some(Vec::new()),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return None;
            }
            let mut items = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                out.push((bytes(k)?, bytes(v)?));
            }
            Some(out)
        }
        Value::Map(entries) => entries.into_iter().map(|(k, v)| Some((bytes(k)?, bytes(v)?))).collect(),
        _ => None,
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        _ => None,
    }
}

fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &[u8]) -> Option<&'a [u8]> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
}

/// Hands a hall's events from `first` (on) up to `stop` (excluded, or to
/// the end) to `f`, checking that they follow each other without a gap.
async fn read_range(
    conn: &mut Conn,
    events_key: &str,
    first: u64,
    stop: Option<u64>,
    f: &mut impl FnMut(Event) -> Result<(), String>,
) -> Result<(), StoreError> {
    // An entry's id is its last event: the first entry holding event
    // `first` has an id at or past it.
    let mut start = if first <= 1 {
        "-".to_owned()
    } else {
        format!("{first}-0")
    };
    let mut expect = first.max(1);
    loop {
        let reply: Value = redis::cmd("XRANGE")
            .arg(events_key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(conn)
            .await
            .map_err(|e| failed("read", events_key, e))?;
        let entries = match reply {
            Value::Array(entries) => entries,
            Value::Nil => Vec::new(),
            other => {
                return Err(StoreError::corrupt(events_key, format!("XRANGE answered {other:?}")));
            }
        };
        let count = entries.len();
        // Decoding a page (and whatever `f` does) is CPU work: off the
        // runtime's workers where it can be.
        let done = off_the_runtime(|| -> Result<bool, StoreError> {
            for entry in entries {
                let (id, fields) = split_entry(entry).ok_or_else(|| {
                    StoreError::corrupt(events_key, "XRANGE answered an entry that is not [id, fields]")
                })?;
                let place = format!("{events_key} entry {id}");
                let last = parse_entry_id(&id)
                    .ok_or_else(|| StoreError::corrupt(&place, "not a hallcall entry id (SEQ-0)"))?;
                let json = field(&fields, b"e").ok_or_else(|| StoreError::corrupt(&place, "no `e` field"))?;
                let events: Vec<Event> = serde_json::from_slice(json)
                    .map_err(|e| StoreError::corrupt(&place, format!("not a batch of hallcall events: {e}")))?;
                if events.last().map(|e| e.seq) != Some(last) {
                    return Err(StoreError::corrupt(&place, "its events do not end at its id"));
                }
                for event in events.into_iter().filter(|e| e.seq >= first) {
                    if stop.is_some_and(|s| event.seq >= s) {
                        return Ok(true);
                    }
                    if event.seq != expect {
                        return Err(StoreError::corrupt(
                            &place,
                            format!(
                                "expected event {expect}, found {}: the stream has a gap or is out of order",
                                event.seq
                            ),
                        ));
                    }
                    f(event).map_err(|e| StoreError::corrupt(&place, e))?;
                    expect += 1;
                }
                start = format!("({id}");
            }
            Ok(count < PAGE)
        })?;
        if done {
            break;
        }
    }
    Ok(())
}

/// Runs CPU-bound work so that other tasks move to another worker
/// meanwhile (on a multi-threaded runtime; elsewhere it just runs).
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// `PREFIX:{HALL}:WHAT`: see [`RedisStore::key`].
pub fn hall_key(prefix: &str, hall: HallId, what: &str) -> String {
    format!("{prefix}:{{{hall}}}:{what}")
}

mod conn;

#[cfg(test)]
mod tests;
