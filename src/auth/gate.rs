//! What stands between a sign-in attempt and argon2: each check takes 19
//! MiB and tens of milliseconds, so a flood of attempts from many
//! addresses could take gigabytes. Checks run a few at once (sized from
//! the cores), the rest wait briefly in a bounded queue and are then
//! refused; and an account (a user name in a hall, known or not) that
//! keeps failing is locked for a doubling while, so guesses against one
//! account are refused before they cost anything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::password::verify_password;

/// Wrong passwords in a row an account is allowed before it is locked.
pub const FREE_TRIES: u32 = 5;
/// The first lockout; each further wrong password doubles it.
const FIRST_LOCK: Duration = Duration::from_secs(2);
/// The longest lockout: long enough to make guessing hopeless, short
/// enough that a clerk who mistyped can sign in after a coffee.
const LONGEST_LOCK: Duration = Duration::from_secs(300);
/// Accounts remembered before forgotten ones are swept (unknown names
/// count too, so a scan of names cannot grow memory without bound).
const MAX_ACCOUNTS: usize = 50_000;

/// Why a password was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChecked {
    /// The account is locked for this long yet.
    Locked(Duration),
    /// Too many checks are waiting: try again shortly.
    Busy,
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    /// Wrong passwords in a row, and attempts under way (counted before
    /// the check, so a burst of guesses at once is refused too).
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Wrong passwords per account, with their lockouts.
#[derive(Debug, Default)]
pub struct Lockouts {
    accounts: Mutex<HashMap<String, Strikes>>,
}

impl Lockouts {
    /// Counts an attempt on `account` (as a failure until it succeeds),
    /// or refuses it while the account is locked.
    ///
    /// # Errors
    /// The account is locked: how long yet.
    pub fn begin(&self, account: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_ACCOUNTS {
            map.retain(|_, s| s.locked_until.is_some_and(|u| u > now) || now.duration_since(s.last) < LONGEST_LOCK);
        }
        let s = map.entry(account.to_owned()).or_insert(Strikes {
            failures: 0,
            locked_until: None,
            last: now,
        });
        match s.locked_until {
            Some(until) if until > now => return Err(until - now),
            // The lockout is served: one more try (a wrong one locks again,
            // for twice as long).
            Some(_) => s.locked_until = None,
            // Out of tries by attempts still being checked: a burst of
            // guesses at once is refused like guesses one by one.
            None if s.failures >= FREE_TRIES => {
                s.locked_until = Some(now + lock_for(s.failures));
                return Err(lock_for(s.failures));
            }
            None => {}
        }
        s.failures += 1;
        s.last = now;
        Ok(())
    }

    /// The attempt failed: past the free tries, the account is locked.
    pub fn failed(&self, account: &str, now: Instant) {
        let mut map = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get_mut(account)
            && s.failures >= FREE_TRIES
        {
            s.locked_until = Some(now + lock_for(s.failures));
        }
    }

    /// The attempt was not checked after all (the checks were busy).
    pub fn abandoned(&self, account: &str) {
        let mut map = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get_mut(account) {
            s.failures = s.failures.saturating_sub(1);
        }
    }

    /// The password was right: the account's slate is clean.
    pub fn succeeded(&self, account: &str) {
        let mut map = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(account);
    }
}

/// The lockout after `failures` wrong passwords in a row.
fn lock_for(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(FREE_TRIES).min(16);
    (FIRST_LOCK * 2u32.pow(doublings)).min(LONGEST_LOCK)
}

/// Password checks, a few at once.
#[derive(Debug)]
pub struct PasswordChecks {
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    /// A recent check's duration in µs, which an unknown user's attempt
    /// waits out instead of checking anything (see `pretend`).
    typical_us: AtomicUsize,
}

impl PasswordChecks {
    /// `at_once` checks in parallel, `max_waiting` more queued for at most
    /// `max_wait`.
    pub fn new(at_once: usize, max_waiting: usize, max_wait: Duration) -> PasswordChecks {
        PasswordChecks {
            running: Semaphore::new(at_once.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            max_wait,
            typical_us: AtomicUsize::new(50_000),
        }
    }

    /// Sized from the machine: one check per core, at most four (76 MiB).
    pub fn for_this_machine() -> PasswordChecks {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        PasswordChecks::new(cores.min(4), 64, Duration::from_secs(3))
    }

    /// Whether `password` matches `hash`, checked on a blocking thread
    /// once a place is free.
    ///
    /// # Errors
    /// `Busy` when the queue is full or the wait too long.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, NotChecked> {
        let _permit = self.permit().await?;
        let started = Instant::now();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        let took = usize::try_from(started.elapsed().as_micros()).unwrap_or(usize::MAX);
        // A running mean over the last few checks.
        let was = self.typical_us.load(Ordering::Relaxed);
        self.typical_us.store(was - was / 8 + took / 8, Ordering::Relaxed);
        Ok(ok)
    }

    /// For a user name the hall does not have: waits about as long as a
    /// check takes, so the answer's timing does not tell which names
    /// exist, without spending a check's memory on a guess.
    pub async fn pretend(&self) {
        let us = self.typical_us.load(Ordering::Relaxed) as u64;
        tokio::time::sleep(Duration::from_micros(us)).await;
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, NotChecked> {
        if let Ok(p) = self.running.try_acquire() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(NotChecked::Busy);
        }
        let got = tokio::time::timeout(self.max_wait, self.running.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Ok(p)) => Ok(p),
            _ => Err(NotChecked::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_its_free_tries_for_a_doubling_while() {
        let l = Lockouts::default();
        let t0 = Instant::now();
        for _ in 0..FREE_TRIES {
            l.begin("hall/w1", t0).unwrap();
            l.failed("hall/w1", t0);
        }
        assert_eq!(l.begin("hall/w1", t0), Err(FIRST_LOCK));
        assert!(l.begin("hall/w2", t0).is_ok(), "per account");
        let later = t0 + FIRST_LOCK;
        l.begin("hall/w1", later).unwrap();
        l.failed("hall/w1", later);
        assert_eq!(l.begin("hall/w1", later), Err(FIRST_LOCK * 2), "doubled");
        let much_later = later + Duration::from_secs(3600);
        l.begin("hall/w1", much_later).unwrap();
        l.succeeded("hall/w1");
        for _ in 0..FREE_TRIES {
            l.begin("hall/w1", much_later).unwrap();
        }
        assert!(
            l.begin("hall/w1", much_later).is_err(),
            "attempts still being checked count: a burst of guesses at once is refused"
        );
        assert_eq!(lock_for(100), LONGEST_LOCK);
    }

    #[tokio::test]
    async fn checks_past_the_queue_are_refused_at_once_and_the_queued_one_runs_when_a_place_frees() {
        let checks = std::sync::Arc::new(PasswordChecks::new(1, 1, Duration::from_secs(60)));
        let hash = super::super::hash_password("right").unwrap();
        let held = checks.running.try_acquire().unwrap();
        let queued = tokio::spawn({
            let (checks, hash) = (checks.clone(), hash.clone());
            async move { checks.verify("right".into(), hash).await }
        });
        while checks.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            checks.verify("right".into(), hash.clone()).await,
            Err(NotChecked::Busy),
            "the queue is full"
        );
        drop(held);
        assert_eq!(queued.await.unwrap(), Ok(true));
        assert_eq!(checks.verify("wrong".into(), hash).await, Ok(false));
    }
}
