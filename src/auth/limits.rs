//! Per-client rate limits for the public endpoints (ticket status, mobile
//! ticket-taking, sign-in): a token bucket per IP address.

use std::net::IpAddr;
use std::time::Instant;

use dashmap::DashMap;

/// A bucket: `burst` requests at once, refilled at `per_sec`.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub burst: f64,
    pub per_sec: f64,
}

/// Entries kept before idle ones are swept, so a scan from many addresses
/// cannot grow memory without bound.
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    rates: Rates,
    buckets: DashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    pub fn new(rates: Rates) -> RateLimiter {
        RateLimiter {
            rates,
            buckets: DashMap::new(),
        }
    }

    /// Takes one request from `ip`'s bucket; `Err` holds the seconds until
    /// the next one is allowed.
    ///
    /// # Errors
    /// The bucket is empty.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), f64> {
        if self.buckets.len() > MAX_CLIENTS {
            let full = self.rates.burst / self.rates.per_sec;
            self.buckets
                .retain(|_, (_, at)| now.saturating_duration_since(*at).as_secs_f64() < full);
        }
        let mut entry = self.buckets.entry(ip).or_insert((self.rates.burst, now));
        let refilled = self.refilled(*entry, now);
        let taken = self.take(refilled);
        *entry = (if taken.is_ok() { refilled - 1.0 } else { refilled }, now);
        taken
    }

    /// Whether `ip` has a request left, without taking it: for a limit
    /// on failures alone, charged with [`RateLimiter::charge`] when one
    /// fails (so many correct sign-ins at once from one NAT address all
    /// pass).
    ///
    /// # Errors
    /// The bucket is empty: the seconds until it is not.
    pub fn ready(&self, ip: IpAddr, now: Instant) -> Result<(), f64> {
        match self.buckets.get(&ip) {
            Some(entry) => self.take(self.refilled(*entry, now)),
            None => Ok(()),
        }
    }

    /// A bucket's tokens at `now`.
    fn refilled(&self, (tokens, at): (f64, Instant), now: Instant) -> f64 {
        (tokens + now.saturating_duration_since(at).as_secs_f64() * self.rates.per_sec).min(self.rates.burst)
    }

    /// Whether `tokens` allow a request; else the seconds until they do.
    fn take(&self, tokens: f64) -> Result<(), f64> {
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err((1.0 - tokens) / self.rates.per_sec)
        }
    }

    /// Takes one request from `ip`'s bucket (a failure), down to empty.
    pub fn charge(&self, ip: IpAddr, now: Instant) {
        let _ = self.check(ip, now);
    }

    /// Gives back the request `check` took (a request that succeeded,
    /// where only failures count).
    pub fn refund(&self, ip: IpAddr) {
        if let Some(mut entry) = self.buckets.get_mut(&ip) {
            entry.0 = (entry.0 + 1.0).min(self.rates.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let l = RateLimiter::new(Rates {
            burst: 3.0,
            per_sec: 2.0,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert!(l.check(ip, t0).is_ok());
        assert!(l.check(ip, t0).is_ok());
        assert!(l.check(ip, t0).is_ok());
        let wait = l.check(ip, t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        assert!(l.check(other, t0).is_ok(), "buckets are per address");
        assert!(l.check(ip, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check(ip, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn ready_takes_nothing_and_only_charges_count() {
        let l = RateLimiter::new(Rates {
            burst: 2.0,
            per_sec: 0.001,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..50 {
            assert!(l.ready(ip, t0).is_ok(), "successes cost nothing");
        }
        l.charge(ip, t0);
        assert!(l.ready(ip, t0).is_ok());
        l.charge(ip, t0);
        assert!(l.ready(ip, t0).is_err(), "two failures empty it");
        l.charge(ip, t0);
        assert!(l.ready(ip, t0).is_err());
    }

    #[test]
    fn a_refund_gives_one_request_back_up_to_the_burst() {
        let l = RateLimiter::new(Rates {
            burst: 2.0,
            per_sec: 0.001,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.check(ip, t0).is_ok(), "every request refunded");
            l.refund(ip);
        }
        l.refund(ip);
        assert!(l.check(ip, t0).is_ok());
        assert!(l.check(ip, t0).is_ok());
        assert!(l.check(ip, t0).is_err(), "never above the burst");
    }
}
