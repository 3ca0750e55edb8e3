//! How far estimates were from the waits that followed: absolute errors
//! in minutes, relative errors against the wait itself (with waits under
//! five minutes counted as five, so a one-minute miss on a short wait is
//! not a 100% error), and the bias (estimate minus wait), by zone, lane
//! and moment of reading.

use std::collections::BTreeMap;

use crate::day::{Outcome, Point};

/// Waits shorter than this count as this long for relative errors.
pub const FLOOR_MS: i64 = 5 * 60_000;

/// One estimate beside the wait that followed it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub estimate_ms: i64,
    pub actual_ms: i64,
    /// The range shown with it, if any.
    pub range_ms: Option<(i64, i64)>,
}

impl Sample {
    fn abs_minutes(self) -> f64 {
        (self.estimate_ms - self.actual_ms).abs() as f64 / 60_000.0
    }

    fn relative(self) -> f64 {
        (self.estimate_ms - self.actual_ms).abs() as f64 / self.actual_ms.max(FLOOR_MS) as f64
    }

    fn bias_minutes(self) -> f64 {
        (self.estimate_ms - self.actual_ms) as f64 / 60_000.0
    }
}

/// The figures of one group of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median_abs_min: f64,
    pub p90_abs_min: f64,
    pub median_rel: f64,
    pub p90_rel: f64,
    pub median_bias_min: f64,
    /// Of the samples with a range, the share whose wait fell inside it.
    pub in_range: Option<f64>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

pub fn summarize(samples: &[Sample]) -> Summary {
    let sorted = |f: fn(Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(|s| f(*s)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let abs = sorted(Sample::abs_minutes);
    let rel = sorted(Sample::relative);
    let bias = sorted(Sample::bias_minutes);
    Summary {
        n: samples.len(),
        median_abs_min: quantile(&abs, 0.5),
        p90_abs_min: quantile(&abs, 0.9),
        median_rel: quantile(&rel, 0.5),
        p90_rel: quantile(&rel, 0.9),
        median_bias_min: quantile(&bias, 0.5),
        in_range: {
            let ranged: Vec<bool> = samples
                .iter()
                .filter_map(|s| s.range_ms.map(|(lo, hi)| (lo..=hi).contains(&s.actual_ms)))
                .collect();
            (!ranged.is_empty()).then(|| ranged.iter().filter(|&&x| x).count() as f64 / ranged.len() as f64)
        },
    }
}

/// Which estimator: the engine's current one, or the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Estimator {
    Current,
    Forecast,
    /// The model reference (at issue, when played for).
    Reference,
}

impl Estimator {
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Current => "current",
            Estimator::Forecast => "forecast",
            Estimator::Reference => "model reference",
        }
    }
}

/// The group a sample is counted in: a zone (by index; `None` for all)
/// and a lane (`None` for both), at a moment, by an estimator.
pub type Group = (Option<usize>, Option<Lane>, Point, Estimator);

/// The lane a ticket was taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    Normal,
    Priority,
    Appointment,
}

/// Samples per group, and per group the readings with no estimate
/// ("no window open").
#[derive(Debug, Default)]
pub struct Grouped {
    pub samples: BTreeMap<Group, Vec<Sample>>,
    pub unestimated: BTreeMap<Group, usize>,
}

/// Every called ticket's estimates, grouped by zone, lane, moment and
/// estimator, and also over all zones and both lanes.
pub fn group(outcomes: &[Outcome]) -> Grouped {
    let mut out = Grouped::default();
    for o in outcomes {
        for r in &o.estimates {
            let Some(actual_ms) = o.actual_from(r.at) else { continue };
            let reference = (r.point == Point::Issue && o.reference_ms.is_some()).then_some((
                Estimator::Reference,
                o.reference_ms,
                None,
            ));
            for (estimator, estimate, range_ms) in [
                (Estimator::Current, Some(r.current_ms), None),
                (Estimator::Forecast, r.forecast_ms, r.range_ms),
            ]
            .into_iter()
            .chain(reference)
            {
                let lane = match (o.priority, o.appointment) {
                    (true, _) => Lane::Priority,
                    (_, true) => Lane::Appointment,
                    _ => Lane::Normal,
                };
                for (zone, lane) in [(None, None), (Some(o.zone), None), (None, Some(lane))] {
                    let key = (zone, lane, r.point, estimator);
                    match estimate {
                        Some(estimate_ms) => out.samples.entry(key).or_default().push(Sample {
                            estimate_ms,
                            actual_ms,
                            range_ms,
                        }),
                        None => *out.unestimated.entry(key).or_default() += 1,
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_measured_against_the_wait_with_a_floor() {
        let s = |e: i64, a: i64| Sample {
            estimate_ms: e * 60_000,
            actual_ms: a * 60_000,
            range_ms: Some(((e - 5) * 60_000, (e + 5) * 60_000)),
        };
        let sum = summarize(&[s(10, 20), s(30, 20), s(2, 1), s(20, 20)]);
        assert_eq!(sum.n, 4);
        // Absolute: 10, 10, 1, 0 → sorted 0, 1, 10, 10.
        assert_eq!(sum.median_abs_min, 10.0);
        // Relative: 0.5, 0.5, 1/5 (the floor), 0.
        assert_eq!(sum.median_rel, 0.5);
        assert!((sum.p90_rel - 0.5).abs() < 1e-9);
        // Bias: -10, 10, 1, 0 → sorted -10, 0, 1, 10.
        assert_eq!(sum.median_bias_min, 1.0);
        // Within five minutes of the estimate: the last two.
        assert_eq!(sum.in_range, Some(0.5));
    }
}
