//! What a simulated day assumes. The hall (zones, services, windows and
//! which zones each window serves, in its order of preference) is the
//! configuration's; the rest is assumed, and each figure says so.

use std::sync::Arc;

use hallcall::engine::{HallSpec, Millis};
use rand::Rng;

/// Arrival weights per half hour of the sample halls' ticket hours
/// (08:30–12:00, 14:00–17:30): a morning peak around 09:30, a smaller one
/// at 15:00, quiet before lunch and before closing (the shape of the
/// sample hall's reports and of published hall-traffic curves).
pub const HALF_HOURS: [(u8, u8, f64); 14] = [
    (8, 30, 1.2),
    (9, 0, 1.6),
    (9, 30, 1.8),
    (10, 0, 1.6),
    (10, 30, 1.2),
    (11, 0, 0.9),
    (11, 30, 0.6),
    (14, 0, 0.9),
    (14, 30, 1.3),
    (15, 0, 1.4),
    (15, 30, 1.2),
    (16, 0, 1.0),
    (16, 30, 0.8),
    (17, 0, 0.5),
];

/// The assumptions of a day, beside the hall's own configuration.
#[derive(Debug, Clone)]
pub struct Assumptions {
    /// How busy the hall is: arrivals per day as a share of what its
    /// windows could serve in their open hours at the zones' mean service
    /// times. Near 1, queues build at the peaks and clear after them.
    pub load: f64,
    /// Share of tickets in the priority lane (绿色通道).
    pub priority_share: f64,
    /// Share of the others booked ahead (预约) for the half-hour slot of
    /// their arrival, checked in up to 15 minutes before it; and the share
    /// of bookings nobody comes for.
    pub appointment_share: f64,
    pub appointment_no_show: f64,
    /// Spread of service times: the σ of their log-normal distribution.
    pub service_sigma: f64,
    /// Per service, its mean service time as a factor of its zone's
    /// configured default, drawn once per hall in [0.6, 1.6].
    pub service_factor_range: (f64, f64),
    /// Seconds from a call to the citizen at the window, uniform.
    pub walk_secs: (u32, u32),
    /// Share of citizens who left before their call (a no-show: skipped
    /// after `no_show_wait_secs`, twice).
    pub no_show_share: f64,
    pub no_show_wait_secs: u32,
    /// Share of windows that open late, and by how many minutes.
    pub late_share: f64,
    pub late_minutes: (u32, u32),
    /// Lunch: windows pause at 12:00 and resume a few minutes after 14:00.
    pub lunch_resume_minutes: (u32, u32),
    /// Share of windows that take one break in the afternoon, and its length.
    pub break_share: f64,
    pub break_minutes: (u32, u32),
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            load: 0.9,
            priority_share: 0.08,
            appointment_share: 0.10,
            appointment_no_show: 0.10,
            service_sigma: 0.6,
            service_factor_range: (0.6, 1.6),
            walk_secs: (20, 90),
            no_show_share: 0.05,
            no_show_wait_secs: 120,
            late_share: 0.15,
            late_minutes: (10, 40),
            lunch_resume_minutes: (0, 10),
            break_share: 0.5,
            break_minutes: (10, 20),
        }
    }
}

/// The hall and its per-service means, fixed across the days of a run.
#[derive(Debug, Clone)]
pub struct Hall {
    pub spec: Arc<HallSpec>,
    /// Per zone, per service: the mean service time in milliseconds.
    pub service_ms: Vec<Vec<f64>>,
    pub assumptions: Assumptions,
}

impl Hall {
    pub fn new(spec: Arc<HallSpec>, assumptions: Assumptions, rng: &mut impl Rng) -> Hall {
        let (lo, hi) = assumptions.service_factor_range;
        let service_ms = spec
            .zones
            .iter()
            .map(|z| {
                z.services
                    .iter()
                    .map(|s| {
                        let factor = if s.results { 0.3 } else { rng.random_range(lo..hi) };
                        f64::from(z.default_service_secs) * 1000.0 * factor
                    })
                    .collect()
            })
            .collect();
        Hall {
            spec,
            service_ms,
            assumptions,
        }
    }

    /// Mean tickets a day for each zone: `load` times what the windows
    /// that serve it first could serve in 7 hours, at its services' mean.
    pub fn daily_arrivals(&self) -> Vec<f64> {
        let minutes = 7.0 * 60.0;
        self.spec
            .zones
            .iter()
            .enumerate()
            .map(|(z, _)| {
                let first = self
                    .spec
                    .windows
                    .iter()
                    .filter(|w| w.serves.first().is_some_and(|s| s.zone == z))
                    .count() as f64;
                let mean = self.service_ms[z].iter().sum::<f64>() / self.service_ms[z].len().max(1) as f64;
                self.assumptions.load * first * minutes * 60_000.0 / mean.max(60_000.0)
            })
            .collect()
    }
}

/// A log-normal draw with mean `mean` and spread `sigma` (Box–Muller).
pub fn log_normal(rng: &mut impl Rng, mean: f64, sigma: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let mu = mean.ln() - sigma * sigma / 2.0;
    (mu + sigma * z).exp()
}

/// An arrival time (ms after the day's local midnight) drawn from the
/// half-hour weights.
pub fn arrival_offset(rng: &mut impl Rng) -> i64 {
    let total: f64 = HALF_HOURS.iter().map(|h| h.2).sum();
    let mut pick = rng.random_range(0.0..total);
    for (h, m, w) in HALF_HOURS {
        if pick < w {
            let start = (i64::from(h) * 60 + i64::from(m)) * 60_000;
            return start + rng.random_range(0..30 * 60_000);
        }
        pick -= w;
    }
    (17 * 60 + 29) * 60_000
}

/// A uniform whole number of seconds or minutes in `range`, in ms.
pub fn between(rng: &mut impl Rng, (lo, hi): (u32, u32), unit_ms: i64) -> i64 {
    i64::from(rng.random_range(lo..=hi)) * unit_ms
}

/// The day's local midnight as engine time.
pub fn midnight(spec: &HallSpec, date: jiff::civil::Date) -> Millis {
    let at = spec
        .time_zone
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map(|t| t.as_millisecond())
        .unwrap_or(0);
    Millis(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_log_normal_has_the_mean_asked_for() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 200_000;
        let mean = (0..n).map(|_| log_normal(&mut rng, 600.0, 0.6)).sum::<f64>() / f64::from(n);
        assert!((mean - 600.0).abs() < 6.0, "{mean}");
    }

    #[test]
    fn arrivals_fall_in_ticket_hours_and_peak_in_the_morning() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let at: Vec<i64> = (0..10_000).map(|_| arrival_offset(&mut rng) / 60_000).collect();
        assert!(at.iter().all(|m| (510..720).contains(m) || (840..1050).contains(m)));
        let in_hour = |h: i64| at.iter().filter(|m| **m / 60 == h).count();
        assert!(in_hour(9) > in_hour(11) && in_hour(15) > in_hour(17));
    }
}
