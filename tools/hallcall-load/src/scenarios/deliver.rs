//! One delivery run, shared by the fan-out scenarios: connect the screens,
//! make the planned calls, wait for every delivery (or a limit), then
//! gather what each screen saw.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::calls::{Caller, Slot, drive};
use crate::screens::{Fleet, Tally};
use crate::servers::{CpuMeter, CpuUse, Server};
use crate::stats::{Latency, dur, int};

/// The rows every fan-out scenario reports for hallcall and its baseline:
/// call-to-screen latency, the call requests' answers, missing deliveries;
/// then the delivery checks.
pub fn delivery_rows(
    report: &mut crate::report::Report,
    scen: &str,
    what: &str,
    ours: &Delivery,
    base: &Delivery,
    max: bool,
) {
    let latency = if max {
        "call to screen p50 / p99 / max"
    } else {
        "call to screen p50 / p99"
    };
    report.row(
        scen,
        latency,
        ours.latency_text(max),
        base.latency_text(max),
        String::new(),
        "",
    );
    report.row(
        scen,
        "call request answered p50 / p99 (hallcall: once durable)",
        ours.answer_text(),
        base.answer_text(),
        String::new(),
        "",
    );
    report.row(
        scen,
        "deliveries missing",
        int(ours.tally.missing),
        int(base.tally.missing),
        String::new(),
        "0",
    );
    super::check_deliveries(
        report,
        &format!("{what} hallcall"),
        &ours.tally,
        ours.connected,
        ours.failed,
    );
    super::check_deliveries(
        report,
        &format!("{what} baseline"),
        &base.tally,
        base.connected,
        base.failed,
    );
}

pub struct Delivery {
    pub tally: Tally,
    pub latency: Latency,
    /// The call requests' own answer times.
    pub answer: Latency,
    pub connected: usize,
    pub failed: usize,
    pub calls: usize,
    /// From the first planned call to the last delivery (at least the
    /// planned length).
    pub span: Duration,
    pub max_late: Duration,
    pub settled: bool,
    pub cpu: CpuUse,
    /// Server memory with every screen connected.
    pub rss_kib: u64,
}

impl Delivery {
    pub fn deliveries_per_sec(&self) -> f64 {
        self.tally.delivered as f64 / self.span.as_secs_f64().max(1e-3)
    }

    pub fn frames_per_sec(&self) -> f64 {
        self.tally.frames as f64 / self.span.as_secs_f64().max(1e-3)
    }

    /// `p50 / p99 / max` of call to screen, or `p50 / p99` without `max`.
    pub fn latency_text(&self, max: bool) -> String {
        let l = &self.latency;
        if max {
            format!("{} / {} / {}", dur(l.p50_us), dur(l.p99_us), dur(l.max_us))
        } else {
            format!("{} / {}", dur(l.p50_us), dur(l.p99_us))
        }
    }

    /// `p50 / p99` of the call requests' answers.
    pub fn answer_text(&self) -> String {
        format!("{} / {}", dur(self.answer.p50_us), dur(self.answer.p99_us))
    }

    pub fn json(&self) -> Value {
        let t = &self.tally;
        json!({
            "screens": self.connected,
            "screens_failed": self.failed,
            "calls": self.calls,
            "expected": t.expected,
            "delivered": t.delivered,
            "missing": t.missing,
            "duplicates": t.duplicates,
            "unknown": t.unknown,
            "frames": t.frames,
            "bytes": t.bytes,
            "mean_call_frame_bytes": t.mean_call_frame(),
            "mean_other_frame_bytes": t.mean_other_frame(),
            "resnapshots": t.resnapshots,
            "closed": t.closed,
            "errors": t.errors,
            "latency": self.latency,
            "call_answer": self.answer,
            "span_secs": self.span.as_secs_f64(),
            "deliveries_per_sec": self.deliveries_per_sec(),
            "frames_per_sec": self.frames_per_sec(),
            "max_call_late_ms": self.max_late.as_millis() as u64,
            "settled": self.settled,
            "cpu": self.cpu,
            "server_rss_kib": self.rss_kib,
        })
    }

    /// One progress line.
    pub fn note(&self, who: &str) {
        let t = &self.tally;
        eprintln!(
            "    {who}: {} deliveries, {} missing; p50 {} p99 {} max {}; {} frames/s; cores: server {:.2}, client {:.2}",
            int(t.delivered),
            int(t.missing),
            dur(self.latency.p50_us),
            dur(self.latency.p99_us),
            dur(self.latency.max_us),
            int(self.frames_per_sec() as u64),
            self.cpu.server_cores,
            self.cpu.client_cores,
        );
        eprintln!(
            "      (the call requests themselves were answered in p50 {} p99 {})",
            dur(self.answer.p50_us),
            dur(self.answer.p99_us)
        );
        if self.max_late > Duration::from_millis(100) {
            eprintln!(
                "    note: a call went out {} ms late against its plan",
                self.max_late.as_millis()
            );
        }
    }
}

/// Connects `screens` (path, hall index) to `server`, makes the calls
/// `plan` lays out from a start instant, and waits up to `limit` after the
/// last call for every delivery.
pub async fn deliver(
    server: &Server,
    screens: Vec<(String, u32)>,
    caller: Caller,
    plan: impl FnOnce(Instant) -> Vec<Vec<Slot>>,
    limit: Duration,
) -> anyhow::Result<Delivery> {
    deliver_via(server, server.addr, screens, caller, plan, limit).await
}

/// As [`deliver`], with the calls made through `calls_to` (another node
/// of the same halls) while the screens are on `server`.
pub async fn deliver_via(
    server: &Server,
    calls_to: std::net::SocketAddr,
    screens: Vec<(String, u32)>,
    caller: Caller,
    plan: impl FnOnce(Instant) -> Vec<Vec<Slot>>,
    limit: Duration,
) -> anyhow::Result<Delivery> {
    let mut per_hall: HashMap<u32, u64> = HashMap::new();
    for (_, h) in &screens {
        *per_hall.entry(*h).or_default() += 1;
    }
    let fleet = Fleet::connect(server.addr, screens).await?;
    let rss_kib = server.rss_kib().unwrap_or(0);
    // Let the server finish its connection work before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now() + Duration::from_millis(100);
    let slots = plan(start);
    let calls: usize = slots.iter().map(Vec::len).sum();
    let expected: u64 = slots
        .iter()
        .flatten()
        .map(|s| per_hall.get(&(s.hall as u32)).copied().unwrap_or(0))
        .sum();
    let planned_end = slots.iter().flatten().map(|s| s.at).max().unwrap_or(start);
    let cpu = CpuMeter::start(server);
    let sends = drive(calls_to, Arc::new(caller), slots).await?;
    let settled = fleet.settle(expected, limit).await;
    let cpu = cpu.stop(server);
    let (connected, failed) = (fleet.connected, fleet.failed);
    if let Some(e) = &fleet.first_error {
        eprintln!("    a screen failed to connect: {e}");
    }
    let outcomes = fleet.finish().await;
    let tally = Tally::new(&outcomes, &sends.at);
    let end = tally.last_arrival.unwrap_or(planned_end).max(planned_end);
    let span = end.saturating_duration_since(start).max(Duration::from_millis(1));
    Ok(Delivery {
        latency: Latency::of_sorted(&tally.latencies_us),
        answer: Latency::of_sorted(&sends.answer_us),
        tally,
        connected,
        failed,
        calls,
        span,
        max_late: sends.max_late,
        settled,
        cpu,
        rss_kib,
    })
}
