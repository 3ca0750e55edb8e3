//! `http`: tickets issued over N keep-alive connections for D seconds,
//! against three routes of the baseline server over the same client and
//! connections: axum's hello world (the target's baseline), `/echo` (the
//! issue's HTTP and JSON without a store) and `/durable` (`/echo` answered
//! after a group-committed fdatasync).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::Env;
use crate::baseline;
use crate::hallcall_server::{Hallcall, ISSUE_BODY, Layout, hall_id, live_path};
use crate::http_client::{HttpConn, find};
use crate::report::Report;
use crate::servers::{CpuMeter, CpuUse, Server, busy_after};
use crate::stats::{Latency, dur, int, rate, ratio};
use crate::ws_client::{Display, Incoming};

/// One request shape, repeated.
struct Req {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<&'static [u8]>,
    expect: u16,
}

#[derive(Debug, Default, serde::Serialize)]
struct Load {
    requests: u64,
    errors: u64,
    per_sec: f64,
    latency: Latency,
    first_error: Option<String>,
    cpu: CpuUse,
    /// Answers in each second of the run (warm-up included): shows whether
    /// the rate holds as the queue grows.
    per_second: Vec<u64>,
    server_rss_before_kib: u64,
    server_rss_after_kib: u64,
    /// How long the server stayed busy after the clients stopped.
    busy_after_ms: u64,
    /// Requests answered in all, warm-up included.
    answered: u64,
    /// hallcall: the sequence number a new screen's snapshot had when the
    /// load stopped, and once the server was idle again (or 30 s later).
    /// Far below `answered`, the hub was behind the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    screen_seq_at_stop: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    screen_seq_when_idle: Option<u64>,
}

/// The `seq` of the first message a new screen gets (its snapshot).
async fn screen_seq(addr: SocketAddr, path: &str) -> Option<u64> {
    let got = async {
        let mut d = Display::connect(addr, path).await?;
        let r = match tokio::time::timeout(Duration::from_secs(30), d.next()).await {
            Ok(Ok(Incoming::Text(r))) => r,
            Ok(Ok(Incoming::Closed)) => anyhow::bail!("closed"),
            Ok(Err(e)) => return Err(e),
            Err(_) => anyhow::bail!("no snapshot within 30 s"),
        };
        let text = d.text(r);
        let at = find(text, br#""seq":"#).context("no seq")? + 6;
        let digits: Vec<u8> = text[at..].iter().copied().take_while(u8::is_ascii_digit).collect();
        Ok(std::str::from_utf8(&digits)?.parse::<u64>()?)
    };
    match got.await {
        Ok(n) => Some(n),
        Err(e) => {
            eprintln!("    could not read a new screen's snapshot: {e:#}");
            None
        }
    }
}

/// Runs the load and reads the server's memory and CPU around it.
async fn measured(server: &Server, conns: usize, secs: Duration, req: Req, live: Option<&str>) -> anyhow::Result<Load> {
    let before = server.rss_kib()?;
    let cpu = CpuMeter::start(server);
    let mut l = load(server.addr, conns, secs, req).await?;
    l.cpu = cpu.stop(server);
    if let Some(path) = live {
        l.screen_seq_at_stop = screen_seq(server.addr, path).await;
    }
    l.busy_after_ms = busy_after(server, Duration::from_secs(30)).await.as_millis() as u64;
    if let Some(path) = live {
        l.screen_seq_when_idle = screen_seq(server.addr, path).await;
    }
    l.server_rss_before_kib = before;
    l.server_rss_after_kib = server.rss_kib()?;
    Ok(l)
}

/// Requests on `conns` connections for `secs`; the first fifth (at most a
/// second) warms up and is not counted.
async fn load(addr: SocketAddr, conns: usize, secs: Duration, req: Req) -> anyhow::Result<Load> {
    let req = Arc::new(req);
    let start = Instant::now();
    let warm = start + (secs / 5).min(Duration::from_secs(1));
    let end = start + secs;
    let done = Arc::new(AtomicU64::new(0));
    let ticker = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut per_second = Vec::new();
            let mut last = 0;
            let mut tick = tokio::time::interval_at((start + Duration::from_secs(1)).into(), Duration::from_secs(1));
            while Instant::now() < end + Duration::from_millis(500) {
                tick.tick().await;
                let now = done.load(Ordering::Relaxed);
                per_second.push(now - last);
                last = now;
            }
            per_second
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..conns {
        let req = req.clone();
        let done = done.clone();
        tasks.spawn(async move {
            let mut c = HttpConn::connect(addr).await?;
            let (mut lat, mut errors, mut first_error) = (Vec::with_capacity(4096), 0u64, None);
            let mut answered = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r = c.request(req.method, &req.path, req.token.as_deref(), req.body).await;
                let t1 = Instant::now();
                done.fetch_add(1, Ordering::Relaxed);
                let counted = t0 >= warm && t1 <= end;
                match r {
                    Ok(s) if s == req.expect => {
                        answered += 1;
                        if counted {
                            lat.push(t1.duration_since(t0).as_micros() as u64);
                        }
                    }
                    Ok(s) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{s} {}", String::from_utf8_lossy(c.body())));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        // The connection is unusable after a failure.
                        c = HttpConn::connect(addr).await?;
                    }
                }
            }
            anyhow::Ok((lat, errors, first_error, answered))
        });
    }
    let mut all = Vec::new();
    let mut out = Load::default();
    while let Some(r) = tasks.join_next().await {
        let (lat, errors, first_error, answered) = r.context("a client task failed")??;
        all.extend(lat);
        out.answered += answered;
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.per_second = ticker.await.unwrap_or_default();
    out.per_second.truncate(secs.as_secs() as usize);
    all.sort_unstable();
    out.requests = all.len() as u64;
    out.per_sec = all.len() as f64 / end.duration_since(warm).as_secs_f64();
    out.latency = Latency::of_sorted(&all);
    Ok(out)
}

fn say(l: &Load, what: &str) {
    eprintln!(
        "    {} {what}, p99 {}; cores: server {:.2}, client {:.2}",
        rate(l.per_sec),
        dur(l.latency.p99_us),
        l.cpu.server_cores,
        l.cpu.client_cores
    );
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let (conns, secs) = (env.plan.http_connections, env.plan.http());
    eprintln!(
        "  hallcall: issuing tickets on {conns} connections for {} s",
        secs.as_secs()
    );
    let ours = {
        let hc = Hallcall::start(env.hallcall, env.host, Layout { halls: 1, windows: 1 }).await?;
        let req = Req {
            method: "POST",
            path: format!("/api/v1/halls/{}/tickets", hall_id(0)),
            token: Some(hc.first.guide.clone()),
            body: Some(ISSUE_BODY),
            expect: 201,
        };
        let live = live_path(0, &hc.first.display);
        measured(&hc.server, conns, secs, req, Some(&live)).await?
    };
    eprintln!("    per second: {:?}", ours.per_second);
    eprintln!(
        "    {} issues/s, p99 {}, p99.9 {}, worst {}, {} errors; cores: server {:.2}, client {:.2}; server RSS {} -> {} MiB ({:.2} KiB per ticket), busy {} ms after",
        rate(ours.per_sec),
        dur(ours.latency.p99_us),
        dur(ours.latency.p999_us),
        dur(ours.latency.max_us),
        ours.errors,
        ours.cpu.server_cores,
        ours.cpu.client_cores,
        ours.server_rss_before_kib / 1024,
        ours.server_rss_after_kib / 1024,
        ours.server_rss_after_kib.saturating_sub(ours.server_rss_before_kib) as f64 / ours.answered.max(1) as f64,
        ours.busy_after_ms
    );
    if let (Some(a), Some(b)) = (ours.screen_seq_at_stop, ours.screen_seq_when_idle) {
        eprintln!(
            "    {} issues answered; a new screen's snapshot was at seq {a} when the load stopped, {b} once idle",
            ours.answered
        );
    }
    // One baseline process serves all three, one after the other.
    let b = baseline::start(env.host, 1, env.buffers).await?;
    eprintln!("  baseline: GET /hello on {conns} connections for {} s", secs.as_secs());
    let hello = Req {
        method: "GET",
        path: "/hello".into(),
        token: None,
        body: None,
        expect: 200,
    };
    let base = measured(&b, conns, secs, hello, None).await?;
    say(&base, "requests/s");
    eprintln!(
        "  baseline: POST /echo (JSON in and out, no store) on {conns} connections for {} s",
        secs.as_secs()
    );
    let shape = |path: &str| Req {
        method: "POST",
        path: path.into(),
        token: Some("baseline".into()),
        body: Some(ISSUE_BODY),
        expect: 201,
    };
    let echo = measured(&b, conns, secs, shape("/echo"), None).await?;
    say(&echo, "requests/s");
    eprintln!(
        "  baseline: POST /durable (/echo + group-committed fdatasync) on {conns} connections for {} s",
        secs.as_secs()
    );
    let durable = measured(&b, conns, secs, shape("/durable"), None).await?;
    say(&durable, "requests/s");
    drop(b);
    let scen = format!("http, {conns} connections");
    report.row(
        &scen,
        "requests/s (hallcall: issue a ticket; baseline: hello world)",
        rate(ours.per_sec),
        rate(base.per_sec),
        ratio(ours.per_sec, base.per_sec),
        "≥ 60%",
    );
    let lat = |l: &Latency| {
        format!(
            "{} / {} / {} / {}",
            dur(l.p50_us),
            dur(l.p99_us),
            dur(l.p999_us),
            dur(l.max_us)
        )
    };
    report.row(
        &scen,
        "latency p50 / p99 / p99.9 / worst",
        lat(&ours.latency),
        lat(&base.latency),
        String::new(),
        "",
    );
    report.row(
        &scen,
        "hallcall: slowest second of the run / fastest (answers), server memory per ticket issued",
        format!(
            "{} / {}, {:.2} KiB",
            int(ours.per_second.iter().copied().skip(1).min().unwrap_or(0)),
            int(ours.per_second.iter().copied().max().unwrap_or(0)),
            ours.server_rss_after_kib.saturating_sub(ours.server_rss_before_kib) as f64 / ours.answered.max(1) as f64
        ),
        String::new(),
        String::new(),
        "",
    );
    report.row(
        &scen,
        "baseline: POST /echo, the issue's HTTP and JSON without queue or store (hello world beside it)",
        rate(echo.per_sec),
        rate(base.per_sec),
        ratio(echo.per_sec, base.per_sec),
        "",
    );
    report.row(
        &scen,
        "baseline: POST /durable, /echo answered after a group-committed fdatasync (hello world beside it)",
        rate(durable.per_sec),
        rate(base.per_sec),
        ratio(durable.per_sec, base.per_sec),
        "",
    );
    report.row(
        &scen,
        "requests/s: hallcall issuing against POST /durable",
        rate(ours.per_sec),
        rate(durable.per_sec),
        ratio(ours.per_sec, durable.per_sec),
        "",
    );
    let (first, last) = (
        ours.per_second.first().copied().unwrap_or(0),
        ours.per_second.last().copied().unwrap_or(0),
    );
    report.row(
        &scen,
        "hallcall: issues/s in the first / last second",
        format!("{} / {}", int(first), int(last)),
        String::new(),
        String::new(),
        "",
    );
    report.row(
        &scen,
        "server memory before / after",
        format!(
            "{} / {} MiB",
            ours.server_rss_before_kib / 1024,
            ours.server_rss_after_kib / 1024
        ),
        format!(
            "{} / {} MiB",
            base.server_rss_before_kib / 1024,
            base.server_rss_after_kib / 1024
        ),
        String::new(),
        "",
    );
    for (who, l) in [
        ("hallcall", &ours),
        ("baseline /hello", &base),
        ("baseline /echo", &echo),
        ("baseline /durable", &durable),
    ] {
        if l.errors > 0 {
            report.fail(format!(
                "http {who}: {} failed requests ({})",
                int(l.errors),
                l.first_error.as_deref().unwrap_or("")
            ));
        }
    }
    report.json(
        "http",
        json!({ "connections": conns, "secs": secs.as_secs(), "hallcall": ours, "baseline": base, "echo": echo, "durable": durable }),
    );
    Ok(())
}
