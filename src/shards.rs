//! Many halls in one process, one lock per hall.
//!
//! The shard key is the hall because a hall is the unit of consistency:
//! a window calls across several zones in its preference order, numbers and
//! sequence numbers are per hall, and one call must see every zone it could
//! take from. A finer key (zone) would need several locks per call; a
//! coarser one would serialize halls that share nothing. Halls are fixed at
//! start, so the index is a plain map read without locking; a hall's
//! configuration is swapped whole when it changes, so it is read without
//! locking too.
//!
//! The locks are `std::sync::Mutex`: an engine operation is a few hundred
//! nanoseconds of pure computation and is never held across an `.await`, so
//! an async mutex would only add cost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use crate::config::{HallConfig, ServerConfig};
use crate::engine::{Command, EngineError, Event, Hall, HallId, Millis};

/// A refusal from [`Halls::execute`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("unknown hall {0}")]
    UnknownHall(HallId),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Every hall of the server, each behind its own lock. Cheap to clone.
#[derive(Clone)]
pub struct Halls {
    inner: Arc<Inner>,
}

struct Inner {
    index: HashMap<HallId, usize>,
    shards: Vec<Shard>,
    /// The server signs staff in against a directory (for reading halls'
    /// configuration versions, which may map directory groups).
    has_directory: bool,
}

/// One hall's lock, on cache lines of its own: neighbouring halls are
/// locked by different threads, and sharing a line would make every lock
/// and every update bounce it between cores (false sharing).
#[repr(align(128))]
struct Shard {
    hall: Mutex<Hall>,
    /// Read without the lock; replaced, under the lock, when the hall
    /// applies a new configuration version (`refresh`).
    config: ArcSwap<HallConfig>,
    /// Set when the hall's memory may be ahead of its store (a write
    /// failed): the hall refuses work until rebuilt from the store.
    broken: AtomicBool,
    /// Whether this node serves the hall's operations. Always so alone;
    /// with several nodes on one store, only while it holds the hall's
    /// lease (`cluster`).
    owned: AtomicBool,
    /// Sequence number of the last snapshot taken.
    snapshot_seq: AtomicU64,
}

impl Halls {
    /// Every configured hall, new and empty.
    pub fn new(cfg: &ServerConfig) -> Halls {
        Halls::from_halls(cfg, cfg.halls.iter().map(|h| Hall::new(h.spec.clone())).collect())
    }

    /// From halls already built (for example rebuilt from a store), each
    /// with its hall's configuration in `cfg`.
    ///
    /// # Panics
    /// A hall that `cfg` does not configure: the store rebuilds only those.
    pub fn from_halls(cfg: &ServerConfig, halls: Vec<Hall>) -> Halls {
        let index = halls.iter().enumerate().map(|(i, h)| (h.spec().id, i)).collect();
        let halls = Halls {
            inner: Arc::new(Inner {
                index,
                shards: halls
                    .into_iter()
                    .map(|h| Shard {
                        config: ArcSwap::from_pointee(
                            cfg.halls
                                .iter()
                                .find(|c| c.spec.id == h.spec().id)
                                .expect("every hall rebuilt is a configured one")
                                .clone(),
                        ),
                        snapshot_seq: AtomicU64::new(h.seq()),
                        broken: AtomicBool::new(false),
                        owned: AtomicBool::new(true),
                        hall: Mutex::new(h),
                    })
                    .collect(),
                has_directory: cfg.directory.is_some(),
            }),
        };
        for id in halls.ids().collect::<Vec<_>>() {
            if let Ok(guard) = halls.lock(id) {
                halls.refresh(&guard);
            }
        }
        halls
    }

    pub fn ids(&self) -> impl Iterator<Item = HallId> + '_ {
        self.inner.shards.iter().map(|s| s.config.load().spec.id)
    }

    fn shard(&self, hall: HallId) -> Result<&Shard, ShardError> {
        let i = *self.inner.index.get(&hall).ok_or(ShardError::UnknownHall(hall))?;
        Ok(&self.inner.shards[i])
    }

    /// A hall's configuration, without locking it.
    ///
    /// # Errors
    /// No hall has that id.
    pub fn config(&self, hall: HallId) -> Result<Arc<HallConfig>, ShardError> {
        Ok(self.shard(hall)?.config.load_full())
    }

    /// Brings the hall's configuration in line with the version `hall` (its
    /// locked state) runs: call after anything that may have applied a
    /// `ConfigChanged`. The spec is the hall's own; the rest is read from
    /// the version's document.
    pub fn refresh(&self, hall: &Hall) {
        let Ok(shard) = self.shard(hall.spec().id) else { return };
        let current = shard.config.load();
        let cs = hall.config();
        if current.version == cs.version && Arc::ptr_eq(&current.spec, hall.spec()) {
            return;
        }
        let mut next = if current.version == cs.version || cs.version == 0 {
            (**current).clone()
        } else {
            let name = format!("hall {} configuration version {}", hall.spec().id, cs.version);
            match crate::config::parse_hall(&cs.text, &name, self.inner.has_directory) {
                Ok(c) => c,
                Err(e) => {
                    // A version this build reads differently: keep the rest
                    // as it was rather than stop the hall.
                    tracing::error!(hall = %hall.spec().id, version = cs.version, "configuration version does not read: {e}");
                    (**current).clone()
                }
            }
        };
        next.spec = hall.spec().clone();
        next.version = cs.version;
        if cs.version > 0 {
            next.text = cs.text.clone();
        }
        shard.config.store(Arc::new(next));
    }

    /// Locks one hall. Hold the guard only for synchronous work.
    ///
    /// # Errors
    /// No hall has that id.
    pub fn lock(&self, hall: HallId) -> Result<MutexGuard<'_, Hall>, ShardError> {
        Ok(lock(&self.shard(hall)?.hall))
    }

    /// Runs one command on one hall.
    ///
    /// # Errors
    /// Unknown hall, or the engine's refusal.
    pub fn execute(&self, hall: HallId, cmd: &Command, now: Millis) -> Result<Vec<Event>, ShardError> {
        let mut guard = self.lock(hall)?;
        let events = guard.execute(cmd, now)?;
        self.refresh(&guard);
        Ok(events)
    }

    pub fn is_owned(&self, hall: HallId) -> bool {
        self.shard(hall).is_ok_and(|s| s.owned.load(Ordering::Acquire))
    }

    /// Whether this node serves the hall's operations (see `Shard::owned`).
    pub fn set_owned(&self, hall: HallId, owned: bool) {
        if let Ok(s) = self.shard(hall) {
            s.owned.store(owned, Ordering::Release);
        }
    }

    /// Puts a hall read back from the store in place and serves it, both
    /// under its lock, so a follower's copy cannot slip in between.
    pub fn take_over(&self, hall: Hall) {
        if let Ok(shard) = self.shard(hall.spec().id) {
            let seq = hall.seq();
            let mut guard = lock(&shard.hall);
            *guard = hall;
            self.refresh(&guard);
            shard.snapshot_seq.store(seq, Ordering::Release);
            shard.broken.store(false, Ordering::Release);
            shard.owned.store(true, Ordering::Release);
        }
    }

    /// Puts another node's latest state of a hall in place, unless this
    /// node owns the hall (then its own state is the truth).
    pub fn follow(&self, hall: Hall) {
        if let Ok(shard) = self.shard(hall.spec().id) {
            let mut guard = lock(&shard.hall);
            if !shard.owned.load(Ordering::Acquire) {
                *guard = hall;
                self.refresh(&guard);
            }
        }
    }

    pub(crate) fn is_broken(&self, hall: HallId) -> bool {
        self.shard(hall).is_ok_and(|s| s.broken.load(Ordering::Acquire))
    }

    /// Marks a hall broken; true if it was not already (the caller then
    /// starts its rebuild).
    pub(crate) fn set_broken(&self, hall: HallId) -> bool {
        self.shard(hall).is_ok_and(|s| !s.broken.swap(true, Ordering::AcqRel))
    }

    /// Puts a rebuilt hall in place and lets it work again.
    pub fn replace(&self, hall: Hall) {
        if let Ok(shard) = self.shard(hall.spec().id) {
            let seq = hall.seq();
            let mut guard = lock(&shard.hall);
            *guard = hall;
            self.refresh(&guard);
            drop(guard);
            shard.snapshot_seq.store(seq, Ordering::Release);
            shard.broken.store(false, Ordering::Release);
        }
    }

    /// Whether `seq` is far enough past the last snapshot to take another;
    /// if so, records `seq` as the last.
    pub(crate) fn snapshot_due(&self, hall: HallId, seq: u64, every: u64) -> bool {
        self.shard(hall).is_ok_and(|s| {
            let last = s.snapshot_seq.load(Ordering::Acquire);
            seq >= last + every
                && s.snapshot_seq
                    .compare_exchange(last, seq, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
        })
    }
}

fn lock(m: &Mutex<Hall>) -> MutexGuard<'_, Hall> {
    // A panic while holding the lock cannot leave a hall half-changed:
    // `apply` checks an event fully before it mutates. So a poisoned lock
    // still guards a consistent hall, and refusing all later work would
    // only turn one bug into an outage.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Channel, Code, Issue};

    fn two_halls() -> Halls {
        let src = include_str!("../config/hall.toml");
        Halls::new(&crate::config::parse(src, "hall.toml").unwrap())
    }

    #[test]
    fn unknown_hall_is_refused() {
        let halls = two_halls();
        let err = halls
            .execute(Code::new("nowhere").unwrap(), &Command::Tick, Millis(0))
            .unwrap_err();
        assert_eq!(err, ShardError::UnknownHall(Code::new("nowhere").unwrap()));
    }

    #[test]
    fn halls_run_in_parallel_without_sharing_numbers() {
        let halls = two_halls();
        let ids: Vec<HallId> = halls.ids().collect();
        assert!(ids.len() >= 2, "the sample config has a city hall and a township hall");
        // 2026-11-24 10:00 in Asia/Shanghai, a Tuesday within opening hours.
        let now = Millis(1_795_485_600_000);
        let threads: Vec<_> = ids
            .iter()
            .map(|&id| {
                let halls = halls.clone();
                std::thread::spawn(move || {
                    let zone = halls.config(id).unwrap().spec.zones[0].clone();
                    let cmd = Command::Issue(Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk));
                    (0..200)
                        .map(|_| {
                            let events = halls.execute(id, &cmd, now).unwrap();
                            events
                                .iter()
                                .filter(|e| matches!(e.kind, crate::engine::EventKind::TicketIssued { .. }))
                                .count()
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 200);
        }
        for id in ids {
            let hall = halls.lock(id).unwrap();
            // The day's start, 200 tickets, and the long-queue alert of a
            // hall with thresholds.
            let alerts = hall.alerts().len() as u64;
            assert_eq!(hall.seq(), 201 + alerts);
            assert_eq!(hall.ticket_count(), 200);
        }
    }
}
