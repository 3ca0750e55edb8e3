//! The running sums and samples of one group, turned into its figures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{PauseTimes, Ratings, Row, Stat};
use crate::engine::{PauseReason, Rating};

/// Durations in ms, kept whole so that a range's percentiles are exact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples(Vec<i64>);

impl Samples {
    pub fn push(&mut self, ms: i64) {
        self.0.push(ms);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn stat(&mut self) -> Stat {
        let n = self.0.len();
        if n == 0 {
            return Stat::default();
        }
        self.0.sort_unstable();
        let sum: i128 = self.0.iter().map(|&x| i128::from(x)).sum();
        let mean = (sum + n as i128 / 2) / n as i128;
        // Nearest rank: the smallest value with at least 90% at or below it.
        let rank = (n * 9).div_ceil(10).max(1);
        Stat {
            count: n as u64,
            mean_ms: Some(mean as i64),
            p90_ms: Some(self.0[rank - 1]),
            max_ms: self.0.last().copied(),
        }
    }
}

/// Kept as base64 of little-endian `i32`s: a busy day's samples would be
/// several times longer as JSON numbers, and a year's report reads 365 of
/// them. A duration within one business day fits an `i32` of ms.
impl Serialize for Samples {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.0.len() * 4);
        for &x in &self.0 {
            let x = i32::try_from(x).unwrap_or(if x < 0 { i32::MIN } else { i32::MAX });
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        s.serialize_str(&STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Samples, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom("samples are not whole i32s"));
        }
        Ok(Samples(
            bytes
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ))
    }
}

pub(crate) const REASONS: [PauseReason; 7] = PauseReason::ALL;

fn reason_slot(r: PauseReason) -> usize {
    REASONS.iter().position(|&x| x == r).unwrap_or(REASONS.len() - 1)
}

/// What one group has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    pub issued: u64,
    pub called: u64,
    pub served: u64,
    pub skips: u64,
    pub no_shows: u64,
    pub cancelled: u64,
    pub transfers: u64,
    pub wait: Samples,
    pub service: Samples,
    pub walk: Samples,
    pub idle_ms: i64,
    pub pause_ms: [i64; 7],
    pub unfinished: u64,
    pub left_waiting: u64,
    pub ratings: [u64; 5],
}

/// Which optional figures a kind of group shows.
#[derive(Clone, Copy, Debug)]
pub struct Shows {
    pub issued: bool,
    pub windows: bool,
    pub queue: bool,
}

impl Tally {
    /// Adds another tally of the same group (other days).
    pub fn merge(&mut self, o: Tally) {
        self.issued += o.issued;
        self.called += o.called;
        self.served += o.served;
        self.skips += o.skips;
        self.no_shows += o.no_shows;
        self.cancelled += o.cancelled;
        self.transfers += o.transfers;
        self.wait.extend(o.wait);
        self.service.extend(o.service);
        self.walk.extend(o.walk);
        self.idle_ms += o.idle_ms;
        for (a, b) in self.pause_ms.iter_mut().zip(o.pause_ms) {
            *a += b;
        }
        self.unfinished += o.unfinished;
        self.left_waiting += o.left_waiting;
        for (a, b) in self.ratings.iter_mut().zip(o.ratings) {
            *a += b;
        }
    }

    /// Nothing was seen.
    pub fn is_empty(&self) -> bool {
        *self == Tally::default()
    }

    pub fn pause(&mut self, reason: PauseReason, ms: i64) {
        self.pause_ms[reason_slot(reason)] += ms;
    }

    pub fn rate(&mut self, level: Rating) {
        let slot = match level {
            Rating::VerySatisfied => 0,
            Rating::Satisfied => 1,
            Rating::Basic => 2,
            Rating::Dissatisfied => 3,
            Rating::VeryDissatisfied => 4,
        };
        self.ratings[slot] += 1;
    }

    pub fn row(mut self, key: String, name: String, shows: Shows) -> Row {
        let [vs, s, b, d, vd] = self.ratings;
        let rated = vs + s + b + d + vd;
        let rate_pct = (self.served > 0).then(|| (rated as f64 * 1000.0 / self.served as f64).round() / 10.0);
        let p = self.pause_ms;
        Row {
            key,
            name,
            issued: shows.issued.then_some(self.issued),
            called: self.called,
            served: self.served,
            skips: self.skips,
            no_shows: self.no_shows,
            cancelled: self.cancelled,
            transfers: self.transfers,
            wait: self.wait.stat(),
            service: self.service.stat(),
            walk: self.walk.stat(),
            idle_ms: shows.windows.then_some(self.idle_ms),
            pause: shows.windows.then_some(PauseTimes {
                total_ms: p.iter().sum(),
                signed_in_ms: p[0],
                lunch_ms: p[1],
                break_ms: p[2],
                meeting_ms: p[3],
                training_ms: p[4],
                fault_ms: p[5],
                other_ms: p[6],
            }),
            unfinished_at_close: self.unfinished,
            left_waiting: shows.queue.then_some(self.left_waiting),
            ratings: Ratings {
                very_satisfied: vs,
                satisfied: s,
                basic: b,
                dissatisfied: d,
                very_dissatisfied: vd,
                rated,
                bad: d + vd,
                rate_pct,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(xs: &[i64]) -> Stat {
        let mut s = Samples::default();
        for &x in xs {
            s.push(x);
        }
        s.stat()
    }

    #[test]
    fn nearest_rank_p90_and_a_rounded_mean() {
        assert_eq!(stat(&[]), Stat::default());
        let one = stat(&[7]);
        assert_eq!(
            (one.count, one.mean_ms, one.p90_ms, one.max_ms),
            (1, Some(7), Some(7), Some(7))
        );
        // 1..=10: rank ceil(9) = 9 → 9; mean 5.5 rounds to 6.
        let ten = stat(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
        assert_eq!((ten.mean_ms, ten.p90_ms, ten.max_ms), (Some(6), Some(9), Some(10)));
        // 1..=11: rank ceil(9.9) = 10 → 10.
        let eleven = stat(&(1..=11).collect::<Vec<_>>());
        assert_eq!(eleven.p90_ms, Some(10));
    }

    #[test]
    fn rating_rate_is_per_hundred_served() {
        let mut t = Tally {
            served: 3,
            ..Tally::default()
        };
        t.rate(Rating::Satisfied);
        t.rate(Rating::VeryDissatisfied);
        let shows = Shows {
            issued: false,
            windows: false,
            queue: false,
        };
        let r = t.row("k".into(), "n".into(), shows).ratings;
        assert_eq!((r.rated, r.bad, r.rate_pct), (2, 1, Some(66.7)));
    }
}
