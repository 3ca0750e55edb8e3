//! `hallcall-load`: measures hallcall beside a baseline in one run, on this
//! machine only (loopback), bounded in connections and time, and prints a
//! Markdown table for BENCHMARKS.md and a JSON line.
//!
//! ```sh
//! cargo build --release --workspace --bins && target/release/hallcall-load all
//! target/release/hallcall-load --quick all      # a smoke run, ~10x smaller
//! ```
//!
//! Both servers run as child processes of this one (hallcall's release
//! binary; the baselines by re-executing this binary with a hidden
//! subcommand), so their memory and CPU are read apart from the client's.

mod baseline;
mod calls;
mod hallcall_server;
mod http_client;
mod limits;
mod plan;
mod report;
mod scenarios;
mod screens;
mod servers;
mod stats;
mod ws_client;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use plan::{Knobs, Plan};
use report::Report;

/// Load tests for hallcall beside baselines, on loopback.
#[derive(Debug, Parser)]
#[command(name = "hallcall-load", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// The hallcall binary under test.
    #[arg(long, global = true, default_value = "target/release/hallcall")]
    hallcall: PathBuf,
    /// The loopback address the servers listen on (127.0.0.0/8 or ::1 only).
    #[arg(long, global = true, default_value = "127.0.0.1")]
    host: IpAddr,
    /// A smoke run: counts about 10x smaller, durations shorter.
    #[arg(long, global = true)]
    quick: bool,
    /// The baseline's socket buffers: hallcall's sizes, or axum's defaults.
    #[arg(long, global = true, value_enum, default_value = "hallcall")]
    baseline_buffers: baseline::Buffers,
    #[command(flatten)]
    knobs: Knobs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Every scenario, one after the other (about 4 minutes; --quick: 1).
    All,
    /// Ticket issuing over HTTP against axum's hello world, a JSON echo and
    /// a minimal durable (group-committed fdatasync) route.
    Http,
    /// One call at a time to many screens of one hall.
    Fanout,
    /// A steady call rate to many screens.
    Sustained,
    /// Server memory per idle screen connection.
    Idle,
    /// Many halls with a few screens each, calls spread over all of them.
    City,
    /// Several nodes on one Redis: issuing through 1-3 nodes, a call on
    /// one node to screens on another, takeover after SIGKILL.
    Cluster,
    /// The baseline server (run by this tool as its child).
    #[command(hide = true)]
    ServeBaseline {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 1)]
        halls: usize,
        #[arg(long, value_enum, default_value = "hallcall")]
        buffers: baseline::Buffers,
        /// Where `POST /durable` writes its records.
        #[arg(long)]
        journal: std::path::PathBuf,
    },
}

/// mimalloc, not glibc's malloc: a request allocates and frees many small
/// buffers across threads, where glibc's arenas spent an eighth of the
/// server's time. The load tool and its baselines use it too, so the
/// side-by-side figures compare code, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let which: Vec<&'static str> = match cli.cmd {
        Cmd::ServeBaseline {
            listen,
            halls,
            buffers,
            journal,
        } => {
            return match baseline::serve(listen, halls, buffers, journal) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("serve-baseline: {e:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Cmd::All => vec!["http", "fanout", "sustained", "idle", "city"],
        Cmd::Http => vec!["http"],
        Cmd::Fanout => vec!["fanout"],
        Cmd::Sustained => vec!["sustained"],
        Cmd::Idle => vec!["idle"],
        Cmd::City => vec!["city"],
        Cmd::Cluster => vec!["cluster"],
    };
    match run(&cli, which) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("hallcall-load: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs the chosen scenarios; `Ok(false)` when a check failed.
fn run(cli: &Cli, which: Vec<&'static str>) -> anyhow::Result<bool> {
    limits::require_loopback(cli.host)?;
    let plan = Plan::new(&cli.knobs, cli.quick)?;
    let peak = which.iter().map(|w| plan.connections(w)).max().unwrap_or(0);
    limits::require_connections("this run", peak)?;
    limits::require_open_files(peak)?;
    let hallcall = cli.hallcall.clone();
    let host = cli.host;
    warn_near_midnight();

    // Two workers, as many as the cores the client shares with the server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let started = Instant::now();
    let mut report = Report::default();
    let outcome = rt.block_on(async {
        let work = async {
            for w in &which {
                let env = scenarios::Env {
                    hallcall: &hallcall,
                    host,
                    plan: &plan,
                    buffers: cli.baseline_buffers,
                };
                scenarios::run(w, &env, &mut report).await?;
            }
            anyhow::Ok(())
        };
        // Dropping `work` on a signal drops the server guards, which kill
        // the servers and remove their files.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = work => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated")),
        }
    });
    // Screens still running end with the runtime.
    rt.shutdown_background();
    // What finished before an error is still worth printing.
    if let Err(e) = &outcome {
        report.fail(format!("stopped early: {e:#}"));
    }
    let meta = json!({
        "tool": "hallcall-load",
        "quick": cli.quick,
        "scenarios": which,
        "seconds": started.elapsed().as_secs_f64().round(),
        "plan": plan,
        "baseline_buffers": cli.baseline_buffers,
    });
    report.print(meta);
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    outcome?;
    Ok(!report.failed())
}

/// The generated halls reset their numbers at 00:00 UTC: a run across it
/// sees a new business day (screens are sent fresh snapshots and windows
/// close), which shows up as failed checks, not as slowness.
fn warn_near_midnight() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let to_midnight = 86_400 - now % 86_400;
    if to_midnight < 600 {
        eprintln!(
            "note: UTC midnight is {} s away; the halls start a new business day then and a run across it fails its checks",
            to_midnight
        );
    }
}
