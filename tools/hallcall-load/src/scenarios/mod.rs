//! The scenarios. Each runs hallcall, then its baseline, with the same
//! client and the same load, and adds its rows to the report.

mod city;
mod cluster;
mod deliver;
mod fanout;
mod http;
mod idle;
mod sustained;

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::plan::Plan;
use crate::report::Report;

pub struct Env<'a> {
    pub hallcall: &'a Path,
    pub host: IpAddr,
    pub plan: &'a Plan,
    pub buffers: crate::baseline::Buffers,
}

/// Beyond its planned phases, a scenario gets this long (start-ups,
/// connecting, settling) before it is stopped.
const SLACK: Duration = Duration::from_secs(240);

pub async fn run(which: &str, env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let p = env.plan;
    let planned = Duration::from_secs(match which {
        "http" => 2 * p.http_secs,
        "fanout" => 2 * p.fanout_displays.len() as u64 * (p.fanout_calls as u64 * p.fanout_spacing_ms / 1000 + 1),
        "sustained" => 2 * p.sustained_secs,
        "city" => 2 * p.city_secs,
        "cluster" => 120,
        _ => 0,
    });
    let cap = planned + SLACK;
    eprintln!("== {which} (stops by itself within {} s)", cap.as_secs());
    let started = Instant::now();
    let work = async {
        match which {
            "http" => http::run(env, report).await,
            "fanout" => fanout::run(env, report).await,
            "sustained" => sustained::run(env, report).await,
            "idle" => idle::run(env, report).await,
            "city" => city::run(env, report).await,
            "cluster" => cluster::run(env, report).await,
            other => bail!("no scenario {other:?}"),
        }
    };
    match tokio::time::timeout(cap, work).await {
        Ok(r) => r?,
        Err(_) => bail!("{which} did not finish within its cap of {} s", cap.as_secs()),
    }
    eprintln!("   {which} took {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Checks every run must pass, whatever the speed.
pub fn check_deliveries(report: &mut Report, what: &str, t: &crate::screens::Tally, connected: usize, failed: usize) {
    if failed > 0 {
        report.fail(format!("{what}: {failed} screens could not connect"));
    }
    if t.missing > 0 {
        report.fail(format!("{what}: {} of {} deliveries missing", t.missing, t.expected));
    }
    if t.duplicates > 0 || t.unknown > 0 {
        report.fail(format!(
            "{what}: {} duplicate and {} unknown deliveries",
            t.duplicates, t.unknown
        ));
    }
    if t.closed > 0 || t.errors > 0 {
        report.fail(format!(
            "{what}: {} of {connected} screens were disconnected, {} failed ({})",
            t.closed,
            t.errors,
            t.first_error.as_deref().unwrap_or("no error")
        ));
    }
    if t.resnapshots > 0 {
        report.fail(format!(
            "{what}: {} screens fell behind and were sent a snapshot",
            t.resnapshots
        ));
    }
}
