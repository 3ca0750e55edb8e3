//! Recent service times per zone, the basis of estimated waits.

/// The last few service times of a zone, with a configured prior until
/// there are any. A short window follows the hall's pace through the day
/// (slow mornings, quick afternoons) better than a day-long mean.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceTimes {
    default_ms: i64,
    recent: [i64; ServiceTimes::KEEP],
    len: usize,
    next: usize,
}

impl ServiceTimes {
    const KEEP: usize = 20;

    pub(crate) fn new(default_secs: u32) -> ServiceTimes {
        ServiceTimes {
            default_ms: i64::from(default_secs) * 1000,
            recent: [0; Self::KEEP],
            len: 0,
            next: 0,
        }
    }

    pub(crate) fn record(&mut self, ms: i64) {
        self.recent[self.next] = ms;
        self.next = (self.next + 1) % Self::KEEP;
        self.len = (self.len + 1).min(Self::KEEP);
    }

    /// Whether any service time was recorded.
    pub fn measured(&self) -> bool {
        self.len > 0
    }

    /// How much longer a service that has gone on `elapsed_ms` is
    /// expected to take: the mean of the recent ones that outlasted it,
    /// less what has passed (service times are skewed: one that has run
    /// past the mean is likely a long one). Without three such samples, a
    /// sixth of the mean, or what the mean leaves.
    pub fn remaining_ms(&self, elapsed_ms: i64) -> i64 {
        let mean = self.mean_ms();
        let (sum, n) = self.recent[..self.len]
            .iter()
            .filter(|&&t| t > elapsed_ms)
            .fold((0i64, 0i64), |(s, n), &t| (s + t, n + 1));
        if n >= 3 {
            sum / n - elapsed_ms
        } else {
            (mean - elapsed_ms).max(mean / 6)
        }
    }

    /// One of the recent service times, picked by `pick` (any number),
    /// or the configured default before there are any.
    pub fn drawn(&self, pick: u64) -> i64 {
        if self.len == 0 {
            self.default_ms
        } else {
            self.recent[(pick % self.len as u64) as usize]
        }
    }

    /// One of the recent service times longer than `elapsed_ms`, picked
    /// by `pick`; `None` without three such (then see `remaining_ms`).
    pub fn drawn_past(&self, elapsed_ms: i64, pick: u64) -> Option<i64> {
        let longer = || self.recent[..self.len].iter().filter(move |&&t| t > elapsed_ms);
        let n = longer().count();
        (n >= 3).then(|| longer().nth((pick % n as u64) as usize).copied().unwrap_or(elapsed_ms))
    }

    /// Mean of the recent service times, or the configured default.
    pub fn mean_ms(&self) -> i64 {
        if self.len == 0 {
            self.default_ms
        } else {
            self.recent[..self.len].iter().sum::<i64>() / self.len as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_until_measured_then_a_moving_mean() {
        let mut s = ServiceTimes::new(600);
        assert_eq!(s.mean_ms(), 600_000);
        s.record(100);
        s.record(300);
        assert_eq!(s.mean_ms(), 200);
        for _ in 0..ServiceTimes::KEEP {
            s.record(50);
        }
        assert_eq!(s.mean_ms(), 50);
    }

    #[test]
    fn draws_come_from_the_recent_times() {
        let mut s = ServiceTimes::new(600);
        assert_eq!(s.drawn(12345), 600_000, "the default before any");
        assert_eq!(s.drawn_past(0, 1), None);
        for m in [4, 5, 6, 20, 24] {
            s.record(m * 60_000);
        }
        let all: Vec<i64> = (0..5).map(|pick| s.drawn(pick) / 60_000).collect();
        assert_eq!(all, [4, 5, 6, 20, 24]);
        // Five minutes in: one of the three that ran longer.
        let longer: Vec<Option<i64>> = (0..4).map(|pick| s.drawn_past(5 * 60_000, pick)).collect();
        assert_eq!(
            longer,
            [6, 20, 24, 6].map(|m| Some(m * 60_000)),
            "picked in turn, round again"
        );
        // Only two ran past ten minutes: too few to draw from.
        assert_eq!(s.drawn_past(10 * 60_000, 0), None);
    }

    #[test]
    fn a_service_past_the_mean_runs_on_as_the_long_ones_did() {
        let mut s = ServiceTimes::new(600);
        for m in [4, 5, 6, 20, 24, 28] {
            s.record(m * 60_000);
        }
        // Two minutes in, all six ran longer: their mean (14.5 min) less two.
        assert_eq!(s.remaining_ms(2 * 60_000), 12 * 60_000 + 30_000);
        // Ten minutes in, only the long ones did: 24 min less ten, more
        // than was left at two minutes.
        assert_eq!(s.remaining_ms(10 * 60_000), 14 * 60_000);
        // Past them all: a sixth of the mean.
        assert_eq!(s.remaining_ms(30 * 60_000), 145_000);
    }
}
