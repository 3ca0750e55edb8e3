//! How big each scenario is: the defaults, the `--quick` ones, and the caps
//! no option can raise (every scenario stops by itself).

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use crate::limits::MAX_CONNECTIONS;

/// No timed phase runs longer than this.
const MAX_SECS: u64 = 120;
const MAX_CALLS: usize = 2_000;
const MAX_RATE: u32 = 200;
const MAX_HALLS: usize = 2_000;

/// Per-scenario settings; each has a default (and a `--quick` default).
#[derive(Debug, Args)]
pub struct Knobs {
    /// http: keep-alive connections [64; quick 16].
    #[arg(long, global = true)]
    connections: Option<usize>,
    /// http: seconds per server [10; quick 3].
    #[arg(long, global = true)]
    http_secs: Option<u64>,
    /// fanout: screen counts, one run each [1000,10000; quick 100,1000].
    #[arg(long, global = true, value_delimiter = ',')]
    fanout_displays: Option<Vec<usize>>,
    /// fanout: calls per run [20; quick 10].
    #[arg(long, global = true)]
    calls: Option<usize>,
    /// fanout: milliseconds between calls [200; quick 100].
    #[arg(long, global = true)]
    spacing_ms: Option<u64>,
    /// sustained: screens [10000; quick 1000].
    #[arg(long, global = true)]
    sustained_displays: Option<usize>,
    /// sustained: calls per second [10; quick 5].
    #[arg(long, global = true)]
    rate: Option<u32>,
    /// sustained: seconds [20; quick 4].
    #[arg(long, global = true)]
    sustained_secs: Option<u64>,
    /// idle: screens [10000; quick 1000].
    #[arg(long, global = true)]
    idle_displays: Option<usize>,
    /// city: halls [1000; quick 100].
    #[arg(long, global = true)]
    city_halls: Option<usize>,
    /// city: screens per hall [10].
    #[arg(long, global = true)]
    city_displays: Option<usize>,
    /// city: calls per hall over the run [3; quick 2].
    #[arg(long, global = true)]
    city_calls: Option<usize>,
    /// city: seconds over which the calls are spread [20; quick 4].
    #[arg(long, global = true)]
    city_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub http_connections: usize,
    pub http_secs: u64,
    pub fanout_displays: Vec<usize>,
    pub fanout_calls: usize,
    pub fanout_spacing_ms: u64,
    pub sustained_displays: usize,
    pub sustained_rate: u32,
    pub sustained_secs: u64,
    pub idle_displays: usize,
    pub city_halls: usize,
    pub city_displays: usize,
    pub city_calls: usize,
    pub city_secs: u64,
}

fn capped<T: PartialOrd + std::fmt::Display + Copy>(what: &str, v: T, lo: T, hi: T) -> anyhow::Result<T> {
    if v < lo || v > hi {
        bail!("--{what} {v} is out of range ({lo} to {hi})");
    }
    Ok(v)
}

/// The full-size or the `--quick` default.
fn pick<T>(quick: bool, full: T, small: T) -> T {
    if quick { small } else { full }
}

impl Plan {
    pub fn new(k: &Knobs, quick: bool) -> anyhow::Result<Plan> {
        let p = Plan {
            http_connections: capped("connections", k.connections.unwrap_or(pick(quick, 64, 16)), 1, 1000)?,
            http_secs: capped("http-secs", k.http_secs.unwrap_or(pick(quick, 10, 3)), 1, MAX_SECS)?,
            fanout_displays: k
                .fanout_displays
                .clone()
                .unwrap_or_else(|| if quick { vec![100, 1000] } else { vec![1000, 10_000] }),
            fanout_calls: capped("calls", k.calls.unwrap_or(pick(quick, 20, 10)), 1, MAX_CALLS)?,
            fanout_spacing_ms: capped("spacing-ms", k.spacing_ms.unwrap_or(pick(quick, 200, 100)), 1, 10_000)?,
            sustained_displays: k.sustained_displays.unwrap_or(pick(quick, 10_000, 1000)),
            sustained_rate: capped("rate", k.rate.unwrap_or(pick(quick, 10, 5)), 1, MAX_RATE)?,
            sustained_secs: capped(
                "sustained-secs",
                k.sustained_secs.unwrap_or(pick(quick, 20, 4)),
                1,
                MAX_SECS,
            )?,
            idle_displays: k.idle_displays.unwrap_or(pick(quick, 10_000, 1000)),
            city_halls: capped(
                "city-halls",
                k.city_halls.unwrap_or(pick(quick, 1000, 100)),
                1,
                MAX_HALLS,
            )?,
            city_displays: capped("city-displays", k.city_displays.unwrap_or(10), 1, MAX_CONNECTIONS)?,
            city_calls: capped("city-calls", k.city_calls.unwrap_or(pick(quick, 3, 2)), 1, 50)?,
            city_secs: capped("city-secs", k.city_secs.unwrap_or(pick(quick, 20, 4)), 1, MAX_SECS)?,
        };
        for &n in &p.fanout_displays {
            capped("fanout-displays", n, 1, MAX_CONNECTIONS)?;
        }
        capped("sustained-displays", p.sustained_displays, 1, MAX_CONNECTIONS)?;
        capped("idle-displays", p.idle_displays, 1, MAX_CONNECTIONS)?;
        if p.sustained_calls() > MAX_CALLS {
            bail!(
                "--rate x --sustained-secs makes {} calls: at most {MAX_CALLS}",
                p.sustained_calls()
            );
        }
        if p.city_halls * p.city_calls > 20_000 {
            bail!("--city-halls x --city-calls: at most 20,000 calls");
        }
        Ok(p)
    }

    pub fn sustained_calls(&self) -> usize {
        self.sustained_rate as usize * self.sustained_secs as usize
    }

    /// The most connections a scenario holds at once (its screens, plus
    /// the callers' and set-up connections).
    pub fn connections(&self, scenario: &str) -> usize {
        const SPARE: usize = 100;
        match scenario {
            "http" => self.http_connections + SPARE,
            "fanout" => self.fanout_displays.iter().copied().max().unwrap_or(0) + SPARE,
            "sustained" => self.sustained_displays + SPARE,
            "idle" => self.idle_displays + SPARE,
            "city" => self.city_halls * self.city_displays + SPARE,
            _ => 0,
        }
    }

    pub fn http(&self) -> Duration {
        Duration::from_secs(self.http_secs)
    }
}
