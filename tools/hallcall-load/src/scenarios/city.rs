//! `city`: H halls with S screens each; every hall gets a few calls, spread
//! evenly over the run and over the halls (call i goes to hall i mod H, on
//! its window i / H + 1, so no window is ever busy).

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
/// Connections making the calls (and the set-up requests) at once.
const CALLERS: usize = 16;

fn slots(start: Instant, halls: usize, per_hall: usize, secs: u64) -> Vec<Vec<Slot>> {
    let n = halls * per_hall;
    let tick = Duration::from_secs_f64(secs as f64 / n as f64);
    let mut workers = vec![Vec::new(); CALLERS];
    for i in 0..n {
        workers[i % CALLERS].push(Slot {
            at: start + tick * i as u32,
            hall: i % halls,
            window: (i / halls) as u16 + 1,
            seq: (i / halls) as u32 + 1,
            serve_out_at: None,
        });
    }
    workers
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let p = env.plan;
    let (h, s, k, secs) = (p.city_halls, p.city_displays, p.city_calls, p.city_secs);
    let windows = k as u16;
    eprintln!("  hallcall: {h} halls x {s} screens, {k} calls per hall over {secs} s");
    let ours = {
        let hc = Hallcall::start(env.hallcall, env.host, Layout { halls: h, windows }).await?;
        let mut tokens = Vec::with_capacity(h);
        for i in 0..h {
            tokens.push(hc.tokens(i).await?);
        }
        let t = Instant::now();
        prepare(hc.addr(), &tokens, windows, k, CALLERS).await?;
        eprintln!(
            "    set up {} windows and {} tickets in {:.1} s",
            int((h * k) as u64),
            int((h * k) as u64),
            t.elapsed().as_secs_f64()
        );
        let screens = (0..h)
            .flat_map(|i| std::iter::repeat_n((live_path(i, &tokens[i].display), i as u32), s))
            .collect();
        let caller = Caller::Hallcall {
            tokens: Arc::new(tokens),
        };
        deliver(&hc.server, screens, caller, |st| slots(st, h, k, secs), SETTLE).await?
    };
    ours.note("hallcall");
    let size = match ours.tally.mean_call_frame() {
        0 => 700,
        n => n,
    };
    eprintln!("  baseline: {h} channels x {s} screens, messages of {size} bytes");
    let base = {
        let b = baseline::start(env.host, h, env.buffers).await?;
        let screens = (0..h)
            .flat_map(|i| std::iter::repeat_n((format!("/live/{i}"), i as u32), s))
            .collect();
        let caller = Caller::Baseline {
            call_size: size,
            other_size: 0,
        };
        deliver(&b, screens, caller, |st| slots(st, h, k, secs), SETTLE).await?
    };
    base.note("baseline");
    let scen = format!(
        "city, {} halls x {s} screens, {} calls",
        int(h as u64),
        int((h * k) as u64)
    );
    report.row(
        &scen,
        "deliveries/s",
        rate(ours.deliveries_per_sec()),
        rate(base.deliveries_per_sec()),
        ratio(ours.deliveries_per_sec(), base.deliveries_per_sec()),
        "",
    );
    delivery_rows(report, &scen, "city", &ours, &base, true);
    report.json(
        "city",
        json!({ "halls": h, "screens_per_hall": s, "calls_per_hall": k, "secs": secs,
            "call_message_bytes": size, "hallcall": ours.json(), "baseline": base.json() }),
    );
    Ok(())
}
