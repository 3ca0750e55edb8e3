//! `fanout`: one hall, C screens, K calls one at a time; every (screen,
//! call) pair's latency from the call's request to the delta on the screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Env;
use super::deliver::{Delivery, deliver, delivery_rows};
use crate::baseline;
use crate::calls::{Caller, Slot};
use crate::hallcall_server::{Hallcall, Layout, live_path, prepare};
use crate::report::Report;
use crate::stats::int;

/// Waiting for the last deliveries after the last call.
const SETTLE: Duration = Duration::from_secs(15);

/// Call i on window i+1 (each window calls once: no window is busy, and
/// only the calls' deltas reach the screens).
pub(super) fn slots(start: Instant, calls: usize, spacing: Duration) -> Vec<Vec<Slot>> {
    vec![
        (0..calls)
            .map(|i| Slot {
                at: start + spacing * i as u32,
                hall: 0,
                window: i as u16 + 1,
                seq: i as u32 + 1,
                serve_out_at: None,
            })
            .collect(),
    ]
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let p = env.plan;
    let (calls, spacing) = (p.fanout_calls, Duration::from_millis(p.fanout_spacing_ms));
    let mut runs = Vec::new();
    for &c in &p.fanout_displays {
        eprintln!(
            "  hallcall: {c} screens, {calls} calls {} ms apart",
            spacing.as_millis()
        );
        let ours: Delivery = {
            let windows = u16::try_from(calls).unwrap_or(u16::MAX);
            let hc = Hallcall::start(env.hallcall, env.host, Layout { halls: 1, windows }).await?;
            let tokens = vec![hc.first.clone()];
            prepare(hc.addr(), &tokens, windows, calls, 1).await?;
            let screens = vec![(live_path(0, &hc.first.display), 0); c];
            let caller = Caller::Hallcall {
                tokens: Arc::new(tokens),
            };
            deliver(&hc.server, screens, caller, |s| slots(s, calls, spacing), SETTLE).await?
        };
        ours.note("hallcall");
        // The baseline's message weighs what hallcall's call delta weighed.
        let size = match ours.tally.mean_call_frame() {
            0 => 700,
            n => n,
        };
        eprintln!("  baseline: {c} screens, {calls} messages of {size} bytes");
        let base = {
            let b = baseline::start(env.host, 1, env.buffers).await?;
            let screens = vec![("/live/0".to_owned(), 0); c];
            let caller = Caller::Baseline {
                call_size: size,
                other_size: 0,
            };
            deliver(&b, screens, caller, |s| slots(s, calls, spacing), SETTLE).await?
        };
        base.note("baseline");
        let scen = format!("fanout, {} screens, {calls} calls", int(c as u64));
        delivery_rows(report, &scen, &format!("fanout {c}"), &ours, &base, true);
        report.row(
            &scen,
            "server memory with the screens connected",
            format!("{} MiB", ours.rss_kib / 1024),
            format!("{} MiB", base.rss_kib / 1024),
            String::new(),
            "",
        );
        runs.push(
            json!({ "screens": c, "calls": calls, "spacing_ms": spacing.as_millis() as u64,
            "call_message_bytes": size, "hallcall": ours.json(), "baseline": base.json() }),
        );
    }
    report.json("fanout", json!(runs));
    Ok(())
}
