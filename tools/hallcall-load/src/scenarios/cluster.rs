//! `cluster`: several hallcall nodes on one Redis (a redis-server of the
//! tool's own, `appendonly yes`, `appendfsync always`), side by side in
//! one run:
//!
//! - issuing and calling through 1, 2 and 3 nodes: the same clients, each
//!   on one node, spread over six halls the nodes share out (a request for
//!   a hall another node owns is passed to it);
//! - a call made through one node reaching screens on another, beside the
//!   same screens and calls on one node alone on the same Redis;
//! - takeover: the owner of a hall killed (SIGKILL), timed until an issue
//!   through the other node is answered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::Env;
use super::deliver::{Delivery, deliver, deliver_via};
use super::fanout::slots;
use crate::calls::Caller;
use crate::hallcall_server::{Hallcall, Layout, StoreArg, fresh_secret, hall_id, issue, live_path, prepare, window};
use crate::http_client::HttpConn;
use crate::report::Report;
use crate::servers::{free_port, work_dir};
use crate::stats::{Latency, dur, int, rate};

/// A redis-server child, killed and its files removed when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Redis {
    fn start(host: std::net::IpAddr) -> anyhow::Result<Redis> {
        let dir = work_dir("redis")?;
        let port = free_port(host)?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", &host.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (apt-get install redis-server)")?;
        let redis = Redis { child, port, dir };
        let started = Instant::now();
        while redis.cli(&["PING"]).ok().as_deref() != Some("PONG") {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("redis-server did not answer PING within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .context("cannot run redis-cli (apt-get install redis-tools)")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn url(&self, host: std::net::IpAddr) -> String {
        format!("redis://{host}:{}/", self.port)
    }

    /// Redis's own CPU so far (user + system), from /proc.
    fn cpu(&self) -> Duration {
        crate::servers::cpu(&format!("/proc/{}/stat", self.child.id())).unwrap_or_default()
    }
}

/// `n` nodes (`n1`…) on a fresh Redis, sharing one signing secret; `pins`
/// as `--pin` takes them.
async fn nodes(env: &Env<'_>, layout: Layout, n: usize, pins: &[&str]) -> anyhow::Result<(Redis, Vec<Hallcall>)> {
    let redis = Redis::start(env.host)?;
    let secret = fresh_secret()?;
    redis.cli(&["SET", "hallcall:secret", &secret])?;
    let mut out = Vec::with_capacity(n);
    for i in 1..=n {
        let store = StoreArg::Redis {
            url: redis.url(env.host),
            secret: secret.clone(),
            node: format!("n{i}"),
            pins: pins.iter().map(|p| (*p).to_owned()).collect(),
        };
        out.push(Hallcall::start_on(env.hallcall, env.host, layout, &store).await?);
    }
    // Halls move to the nodes that joined after the first within a beat or
    // two; let them settle before anything is measured.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Ok((redis, out))
}

const HALLS: usize = 6;
const WINDOWS: u16 = 4;

/// Issuing and calling through `nodes`: `conns` connections, connection i
/// on node i mod n and hall i mod 6, each repeating issue, issue,
/// call-next, start, finish on a window of its own, for `secs`. A call
/// that finds no ticket waiting (another connection's window took it)
/// counts as refused, and its start and finish are skipped.
async fn throughput(nodes: &[Hallcall], conns: usize, secs: u64) -> anyhow::Result<(u64, u64, Latency)> {
    let mut tokens = Vec::with_capacity(HALLS);
    for h in 0..HALLS {
        tokens.push(nodes[0].tokens(h).await?);
    }
    prepare(nodes[0].addr(), &tokens, WINDOWS, 0, 2).await?;
    let tokens = Arc::new(tokens);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..conns {
        let addr: SocketAddr = nodes[i % nodes.len()].addr();
        let tokens = tokens.clone();
        tasks.spawn(async move {
            let (hall, w) = (i % HALLS, (i / HALLS) as u16 % WINDOWS + 1);
            let id = hall_id(hall);
            let mut c = HttpConn::connect(addr).await?;
            let (mut ok, mut refused, mut lat) = (0u64, 0u64, Vec::new());
            let (mut k, mut called) = (0u64, false);
            while Instant::now() < until {
                let step = k % 5;
                k += 1;
                if step >= 3 && !called {
                    continue;
                }
                let t = Instant::now();
                let admin = &tokens[hall].admin;
                let done = match step {
                    0 | 1 => issue(&mut c, &id, &tokens[hall].guide).await,
                    2 => window(&mut c, &id, w, "call-next", admin).await.map(|_| ()),
                    3 => window(&mut c, &id, w, "start", admin).await.map(|_| ()),
                    _ => window(&mut c, &id, w, "finish", admin).await.map(|_| ()),
                };
                lat.push(t.elapsed().as_micros() as u64);
                if step == 2 {
                    called = done.is_ok();
                }
                match done {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        if refused == 0 && step != 2 {
                            eprintln!("    refused in {id}: {e:#}");
                        }
                        refused += 1;
                    }
                }
            }
            anyhow::Ok((ok, refused, lat))
        });
    }
    let (mut ok, mut refused, mut lat) = (0, 0, Vec::new());
    while let Some(r) = tasks.join_next().await {
        let (o, f, l) = r.context("a client task failed")??;
        ok += o;
        refused += f;
        lat.extend(l);
    }
    lat.sort_unstable();
    Ok((ok, refused, Latency::of_sorted(&lat)))
}

/// Screens on the last node, calls through the first: hall 0 pinned to n1.
async fn fanout(env: &Env<'_>, n: usize, screens: usize, calls: usize) -> anyhow::Result<Delivery> {
    let windows = u16::try_from(calls).unwrap_or(u16::MAX);
    let (_redis, nodes) = nodes(env, Layout { halls: 1, windows }, n, &["h0000=n1"]).await?;
    let (owner, watcher) = (&nodes[0], &nodes[n - 1]);
    let tokens = vec![owner.first.clone()];
    prepare(owner.addr(), &tokens, windows, calls, 1).await?;
    let fleet = vec![(live_path(0, &owner.first.display), 0); screens];
    let caller = Caller::Hallcall {
        tokens: Arc::new(tokens),
    };
    let spacing = Duration::from_millis(200);
    let settle = Duration::from_secs(15);
    if n == 1 {
        deliver(&owner.server, fleet, caller, |s| slots(s, calls, spacing), settle).await
    } else {
        deliver_via(
            &watcher.server,
            owner.addr(),
            fleet,
            caller,
            |s| slots(s, calls, spacing),
            settle,
        )
        .await
    }
}

/// SIGKILLs hall 0's owner (n1) and times until an issue through n2 is
/// answered 201; `rounds` times, each on a fresh pair.
async fn takeovers(env: &Env<'_>, rounds: usize) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let (_redis, mut nodes) = nodes(env, Layout { halls: 1, windows: 1 }, 2, &["h0000=n1"]).await?;
        let guide = nodes[1].tokens(0).await?.guide;
        let mut c = HttpConn::connect(nodes[1].addr()).await?;
        issue(&mut c, &hall_id(0), &guide)
            .await
            .context("an issue through n2 before the kill")?;
        // A random point in the owner's renewal cycle, as a crash would be.
        tokio::time::sleep(Duration::from_millis(100 * (r as u64 % 5))).await;
        nodes[0].kill();
        let killed = Instant::now();
        loop {
            if issue(&mut c, &hall_id(0), &guide).await.is_ok() {
                break;
            }
            if killed.elapsed() > Duration::from_secs(20) {
                bail!("no takeover within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ms = killed.elapsed().as_millis() as u64;
        eprintln!("    takeover {}: {ms} ms", r + 1);
        out.push(ms);
    }
    Ok(out)
}

pub async fn run(env: &Env<'_>, report: &mut Report) -> anyhow::Result<()> {
    let quick = env.plan.fanout_calls < 20;
    // A connection per window: 24 windows in all.
    let (conns, secs) = if quick { (12, 3) } else { (24, 10) };
    let mut through = Vec::new();
    for n in 1..=3 {
        eprintln!("  issuing and calling through {n} node(s): {conns} connections, {secs} s");
        let (_redis, nodes) = nodes(
            env,
            Layout {
                halls: HALLS,
                windows: WINDOWS,
            },
            n,
            &[],
        )
        .await?;
        let cpu0 = _redis.cpu();
        let (ok, refused, lat) = throughput(&nodes, conns, secs).await?;
        let redis_cpu = _redis.cpu().saturating_sub(cpu0);
        // What a hall's log costs Redis per event (for sizing).
        let stream_bytes: f64 = _redis
            .cli(&["MEMORY", "USAGE", "hallcall:{h0000}:events", "SAMPLES", "0"])?
            .parse()
            .unwrap_or(0.0);
        let events: f64 = _redis.cli(&["GET", "hallcall:{h0000}:last"])?.parse().unwrap_or(0.0);
        let per_event = stream_bytes / events.max(1.0);
        eprintln!("    Redis holds hall 0's {events} events in {stream_bytes} bytes: {per_event:.0} bytes an event");
        let per_sec = ok as f64 / secs as f64;
        eprintln!(
            "    {} ok, {refused} refused: {} ops/s, p50 {} p99 {}; Redis CPU {:.2} s",
            int(ok),
            rate(per_sec),
            dur(lat.p50_us),
            dur(lat.p99_us),
            redis_cpu.as_secs_f64()
        );
        report.row(
            "cluster: issuing and calling",
            &format!("{n} node(s): ops/s, p50 / p99"),
            format!("{} ops/s, {} / {}", rate(per_sec), dur(lat.p50_us), dur(lat.p99_us)),
            String::new(),
            format!(
                "Redis CPU {:.0} µs/op",
                redis_cpu.as_secs_f64() * 1e6 / ok.max(1) as f64
            ),
            "",
        );
        through.push(json!({"nodes": n, "ok": ok, "refused": refused, "ops_per_sec": per_sec,
            "latency": lat, "redis_cpu_secs": redis_cpu.as_secs_f64(), "redis_bytes_per_event": per_event}));
    }
    let screens = if quick { 100 } else { 1000 };
    let calls = if quick { 10 } else { 20 };
    let mut fan = Vec::new();
    for n in [1, 2] {
        eprintln!("  {screens} screens on node {n}, {calls} calls through node 1");
        let d = fanout(env, n, screens, calls).await?;
        d.note(if n == 1 { "one node" } else { "across nodes" });
        report.row(
            "cluster: a call to screens",
            if n == 1 {
                "screens and calls on one node: p50 / p99 / max"
            } else {
                "calls on n1, screens on n2: p50 / p99 / max"
            },
            d.latency_text(true),
            String::new(),
            format!("{} missing", int(d.tally.missing)),
            "",
        );
        if d.tally.missing > 0 {
            report.fail(format!(
                "cluster fan-out over {n} node(s): {} deliveries missing",
                d.tally.missing
            ));
        }
        fan.push(json!({"nodes": n, "delivery": d.json()}));
    }
    let rounds = if quick { 3 } else { 10 };
    eprintln!("  takeover after SIGKILL, {rounds} times");
    let mut t = takeovers(env, rounds).await?;
    t.sort_unstable();
    let median = t[t.len() / 2];
    let worst = *t.last().unwrap_or(&0);
    report.row(
        "cluster: takeover after SIGKILL",
        &format!("kill to served again, median / worst of {rounds}"),
        format!("{median} ms / {worst} ms"),
        String::new(),
        "lease 3 s".into(),
        "",
    );
    report.json("cluster", json!({"through": through, "fanout": fan, "takeover_ms": t}));
    Ok(())
}
