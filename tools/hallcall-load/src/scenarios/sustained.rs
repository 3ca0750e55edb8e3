//! `sustained`: C screens, R calls per second for D seconds. Calls rotate
//! over W windows: window w calls, then half a rotation later starts and
//! finishes that ticket, so it is free for its next call. Start and finish
//! reach every screen too (the windows' state); the baseline sends the same
//! number of messages with the same sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Env;
use super::deliver::{deliver, delivery_rows};
use crate::baseline;
use crate::calls::{Caller, Slot};
use crate::hallcall_server::{Hallcall, Layout, live_path, prepare};
use crate::report::Report;
use crate::stats::{int, rate, ratio};

const SETTLE: Duration = Duration::from_secs(20);

/// Enough windows that each has a full rotation (about a second) to serve
/// its ticket out between two calls.
fn windows(rate: u32) -> u16 {
    rate.clamp(4, 200) as u16
}

fn slots(start: Instant, rate: u32, calls: usize) -> Vec<Vec<Slot>> {
    let w = windows(rate) as usize;
    let tick = Duration::from_secs_f64(1.0 / f64::from(rate));
    (0..w)
        .map(|win| {
            (win..calls)
                .step_by(w)
                .map(|k| {
                    let at = start + tick * k as u32;
                    Slot {
                        at,
                        hall: 0,
                        window: win as u16 + 1,
                        seq: k as u32 + 1,
                        serve_out_at: Some(at + tick * (w as u32 / 2).max(1)),
                    }
                })
                .collect()
        })
        .collect()
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let p = env.plan;
    let (c, r, calls) = (p.sustained_displays, p.sustained_rate, p.sustained_calls());
    eprintln!(
        "  hallcall: {c} screens, {r} calls/s for {} s over {} windows",
        p.sustained_secs,
        windows(r)
    );
    let ours = {
        let w = windows(r);
        let hc = Hallcall::start(env.hallcall, env.host, Layout { halls: 1, windows: w }).await?;
        let tokens = vec![hc.first.clone()];
        // Every ticket is issued before the screens connect; the queue
        // shortens through the run (deltas list the waiting tickets).
        prepare(hc.addr(), &tokens, w, calls, 1).await?;
        let screens = vec![(live_path(0, &hc.first.display), 0); c];
        let caller = Caller::Hallcall {
            tokens: Arc::new(tokens),
        };
        deliver(&hc.server, screens, caller, |s| slots(s, r, calls), SETTLE).await?
    };
    ours.note("hallcall");
    let call_size = match ours.tally.mean_call_frame() {
        0 => 700,
        n => n,
    };
    let other_size = match ours.tally.mean_other_frame() {
        0 => 500,
        n => n,
    };
    eprintln!(
        "  baseline: {c} screens, {r} calls/s; messages of {call_size} bytes, two window messages of {other_size} bytes per call"
    );
    let base = {
        let b = baseline::start(env.host, 1, env.buffers).await?;
        let screens = vec![("/live/0".to_owned(), 0); c];
        let caller = Caller::Baseline { call_size, other_size };
        deliver(&b, screens, caller, |s| slots(s, r, calls), SETTLE).await?
    };
    base.note("baseline");
    let scen = format!(
        "sustained, {} screens, {r} calls/s, {} s",
        int(c as u64),
        p.sustained_secs
    );
    report.row(
        &scen,
        "call deliveries/s (all frames/s)",
        format!("{} ({})", rate(ours.deliveries_per_sec()), rate(ours.frames_per_sec())),
        format!("{} ({})", rate(base.deliveries_per_sec()), rate(base.frames_per_sec())),
        ratio(ours.deliveries_per_sec(), base.deliveries_per_sec()),
        "",
    );
    delivery_rows(report, &scen, "sustained", &ours, &base, false);
    report.json(
        "sustained",
        json!({ "screens": c, "rate": r, "secs": p.sustained_secs, "windows": windows(r),
            "call_message_bytes": call_size, "other_message_bytes": other_size,
            "hallcall": ours.json(), "baseline": base.json() }),
    );
    Ok(())
}
