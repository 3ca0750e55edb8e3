//! Figures for `/metrics` in the Prometheus text format: counters kept by a
//! subscriber of the durable event stream (`counting`), a histogram of the
//! waits citizens had when called, the store's write latency (kept by its
//! writer), and gauges read from the halls when scraped.

mod counting;

pub use counting::count_from;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds (seconds) of the wait histogram: a wait in a hall runs
/// from seconds to a couple of hours.
pub const WAIT_BUCKETS: &[f64] = &[60.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 7200.0];
/// Bucket bounds (seconds) of the store's write latency.
pub const WRITE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0];

/// A histogram with fixed buckets.
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.len() != bounds.len() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in bounds.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Per hall and zone.
#[derive(Debug, Default, Clone)]
struct ZoneFigures {
    issued: u64,
    called: u64,
    served: u64,
    no_shows: u64,
    transfers: u64,
    waits: Histogram,
}

/// Everything counted since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    zones: Mutex<BTreeMap<(String, String), ZoneFigures>>,
    writes: Mutex<Histogram>,
    appends: AtomicU64,
    write_errors: AtomicU64,
}

/// A counter's name, help and how to read it from a zone's figures.
type Counter = (&'static str, &'static str, fn(&ZoneFigures) -> u64);

/// What an event counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Issued,
    Called,
    Served,
    NoShow,
    Transferred,
}

impl Metrics {
    fn zone<R>(&self, hall: &str, zone: &str, f: impl FnOnce(&mut ZoneFigures) -> R) -> R {
        // Counters only: a poisoned lock still holds usable numbers.
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        f(zones.entry((hall.to_owned(), zone.to_owned())).or_default())
    }

    pub fn count(&self, hall: &str, zone: &str, what: Counted) {
        self.zone(hall, zone, |z| match what {
            Counted::Issued => z.issued += 1,
            Counted::Called => z.called += 1,
            Counted::Served => z.served += 1,
            Counted::NoShow => z.no_shows += 1,
            Counted::Transferred => z.transfers += 1,
        });
    }

    /// A ticket called after waiting `secs`.
    pub fn waited(&self, hall: &str, zone: &str, secs: f64) {
        self.zone(hall, zone, |z| z.waits.observe(WAIT_BUCKETS, secs));
    }
}

impl crate::store::WriteObserver for Metrics {
    /// One batch written by the store (`ok` or not), taking `secs`.
    fn wrote(&self, appends: usize, secs: f64, ok: bool) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(WRITE_BUCKETS, secs);
        if ok {
            self.appends.fetch_add(appends as u64, Ordering::Relaxed);
        } else {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Metrics {
    /// The counters and histograms, followed by `gauges` (already in the
    /// text format).
    pub fn render(&self, gauges: &str) -> String {
        let mut out = String::new();
        let zones = self.zones.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let counters: [Counter; 5] = [
            (
                "hallcall_tickets_issued_total",
                "Tickets issued (durable), since start.",
                |z| z.issued,
            ),
            (
                "hallcall_tickets_called_total",
                "Calls and calls back, since start.",
                |z| z.called,
            ),
            (
                "hallcall_tickets_served_total",
                "Services finished, since start.",
                |z| z.served,
            ),
            (
                "hallcall_tickets_no_show_total",
                "Tickets that became no-shows, since start.",
                |z| z.no_shows,
            ),
            (
                "hallcall_tickets_transferred_total",
                "Transfers and moves, since start.",
                |z| z.transfers,
            ),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((hall, zone), z) in &zones {
                let _ = writeln!(out, "{name}{{hall=\"{hall}\",zone=\"{zone}\"}} {}", get(z));
            }
        }
        let name = "hallcall_wait_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long tickets had waited when called.\n# TYPE {name} histogram"
        );
        for ((hall, zone), z) in &zones {
            z.waits.write(
                &mut out,
                name,
                &format!("hall=\"{hall}\",zone=\"{zone}\""),
                WAIT_BUCKETS,
            );
        }
        let name = "hallcall_store_write_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to make one batch durable (group commit).\n# TYPE {name} histogram"
        );
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(&mut out, name, "", WRITE_BUCKETS);
        let _ = writeln!(
            out,
            "# HELP hallcall_store_appends_total Operations made durable.\n# TYPE hallcall_store_appends_total counter\nhallcall_store_appends_total {}",
            self.appends.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hallcall_store_write_errors_total Batches the store failed to write.\n# TYPE hallcall_store_write_errors_total counter\nhallcall_store_write_errors_total {}",
            self.write_errors.load(Ordering::Relaxed)
        );
        out.push_str(gauges);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_cumulative_and_renders_its_sum_and_count() {
        let m = Metrics::default();
        m.waited("h", "general", 30.0);
        m.waited("h", "general", 700.0);
        m.count("h", "general", Counted::Issued);
        let text = m.render("");
        assert!(
            text.contains("hallcall_wait_seconds_bucket{hall=\"h\",zone=\"general\",le=\"60\"} 1"),
            "{text}"
        );
        assert!(text.contains("hallcall_wait_seconds_bucket{hall=\"h\",zone=\"general\",le=\"900\"} 2"));
        assert!(text.contains("hallcall_wait_seconds_bucket{hall=\"h\",zone=\"general\",le=\"+Inf\"} 2"));
        assert!(text.contains("hallcall_wait_seconds_sum{hall=\"h\",zone=\"general\"} 730"));
        assert!(text.contains("hallcall_tickets_issued_total{hall=\"h\",zone=\"general\"} 1"));
    }
}
