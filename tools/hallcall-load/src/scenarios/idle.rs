//! `idle`: server memory per idle screen connection: resident memory with
//! C screens connected minus before, over C.

use std::time::Duration;

use serde_json::json;

use super::Env;
use crate::baseline;
use crate::hallcall_server::{Hallcall, Layout, live_path};
use crate::report::Report;
use crate::screens::Fleet;
use crate::servers::Server;
use crate::stats::int;

/// How often resident memory is read while waiting for it to settle.
const SAMPLE: Duration = Duration::from_millis(500);
/// Settled: three readings in a row within this of each other.
const STILL_KIB: u64 = 256;
/// Waited for at most this long.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

#[derive(Debug, serde::Serialize)]
struct Idle {
    screens: usize,
    failed: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    bytes_per_connection: f64,
}

/// Resident memory once it has stopped moving: signing in (the load tool
/// signs in three accounts) takes argon2's 19 MiB of working memory a
/// time, which the allocator gives back only after a while; screens that
/// connect meanwhile reuse it, and the figure would be too low.
async fn settled(server: &Server) -> anyhow::Result<u64> {
    let start = std::time::Instant::now();
    let mut last = vec![server.rss_kib()?];
    loop {
        tokio::time::sleep(SAMPLE).await;
        last.push(server.rss_kib()?);
        let recent = &last[last.len().saturating_sub(3)..];
        let (lo, hi) = (recent.iter().min(), recent.iter().max());
        if recent.len() == 3 && hi.zip(lo).is_some_and(|(h, l)| h - l <= STILL_KIB) {
            return Ok(recent[2]);
        }
        if start.elapsed() > SETTLE_WITHIN {
            eprintln!("    resident memory did not settle within {SETTLE_WITHIN:?}: {last:?} KiB");
            return Ok(*last.last().unwrap_or(&0));
        }
    }
}

async fn measure(server: &Server, path: String, c: usize) -> anyhow::Result<Idle> {
    let before = settled(server).await?;
    let fleet = Fleet::connect(server.addr, vec![(path, 0); c]).await?;
    let after = settled(server).await?;
    let out = Idle {
        screens: fleet.connected,
        failed: fleet.failed,
        rss_before_kib: before,
        rss_after_kib: after,
        bytes_per_connection: (after.saturating_sub(before) * 1024) as f64 / fleet.connected.max(1) as f64,
    };
    fleet.finish().await;
    Ok(out)
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let c = env.plan.idle_displays;
    eprintln!("  hallcall: {c} idle screens");
    let ours = {
        let hc = Hallcall::start(env.hallcall, env.host, Layout { halls: 1, windows: 4 }).await?;
        measure(&hc.server, live_path(0, &hc.first.display), c).await?
    };
    eprintln!("    {:.0} bytes per connection", ours.bytes_per_connection);
    eprintln!("  baseline: {c} idle screens");
    let base = {
        let b = baseline::start(env.host, 1, env.buffers).await?;
        measure(&b, "/live/0".into(), c).await?
    };
    eprintln!("    {:.0} bytes per connection", base.bytes_per_connection);
    let kib = |b: f64| format!("{:.1} KiB", b / 1024.0);
    let scen = format!("idle, {} screens", int(c as u64));
    report.row(
        &scen,
        "server memory per idle connection",
        kib(ours.bytes_per_connection),
        kib(base.bytes_per_connection),
        crate::stats::ratio(ours.bytes_per_connection, base.bytes_per_connection),
        "≤ 8 KiB",
    );
    for (who, i) in [("hallcall", &ours), ("baseline", &base)] {
        if i.failed > 0 {
            report.fail(format!("idle {who}: {} screens could not connect", i.failed));
        }
    }
    report.json("idle", json!({ "screens": c, "hallcall": ours, "baseline": base }));
    Ok(())
}
