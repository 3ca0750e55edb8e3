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

/// Time for the allocator and the connection tasks to settle before RSS
/// is read.
const QUIET: Duration = Duration::from_secs(2);

#[derive(Debug, serde::Serialize)]
struct Idle {
    screens: usize,
    failed: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    bytes_per_connection: f64,
}

async fn measure(server: &Server, path: String, c: usize) -> anyhow::Result<Idle> {
    tokio::time::sleep(QUIET).await;
    let before = server.rss_kib()?;
    let fleet = Fleet::connect(server.addr, vec![(path, 0); c]).await?;
    tokio::time::sleep(QUIET).await;
    let after = server.rss_kib()?;
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
