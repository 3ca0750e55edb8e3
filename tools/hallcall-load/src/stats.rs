//! Percentiles and the way figures are written.

use serde::Serialize;

/// Latency figures in microseconds over a set of samples.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    /// From samples sorted in increasing order.
    pub fn of_sorted(v: &[u64]) -> Latency {
        Latency {
            samples: v.len(),
            p50_us: pct(v, 0.50),
            p99_us: pct(v, 0.99),
            p999_us: pct(v, 0.999),
            max_us: v.last().copied().unwrap_or(0),
        }
    }
}

/// The nearest-rank percentile of sorted samples (0 for none).
pub fn pct(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12.3 ms`, `850 µs`, `2.41 s`.
pub fn dur(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 10_000 {
        format!("{:.2} ms", us as f64 / 1e3)
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// `12,345`.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12,345` for a rate.
pub fn rate(per_sec: f64) -> String {
    int(per_sec.round() as u64)
}

/// `62%`, or `n/a` without a baseline figure.
pub fn ratio(ours: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.0}%", 100.0 * ours / base)
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(pct(&v, 0.5), 50);
        assert_eq!(pct(&v, 0.99), 99);
        assert_eq!(pct(&v, 1.0), 100);
        assert_eq!(pct(&[7], 0.99), 7);
        assert_eq!(pct(&[], 0.5), 0);
    }

    #[test]
    fn formats() {
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(int(999), "999");
        assert_eq!(dur(850), "850 µs");
        assert_eq!(dur(12_345), "12.3 ms");
        assert_eq!(dur(2_410_000), "2.41 s");
    }
}
