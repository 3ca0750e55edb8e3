//! The servers under test, each a child process so its memory and CPU can
//! be read from /proc apart from the client's. A guard kills the child and
//! removes its files when dropped: at the end, on an error, on a panic
//! (unwinding) and on ctrl-c (the run's future is dropped). Killed
//! outright (SIGKILL, a CI time limit), the tool cannot run that guard: on
//! Linux the kernel then kills the children too, so no server is left
//! loading the machine under whatever is measured next.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http_client;

/// How long a server may take to answer its readiness check.
const READY_CAP: Duration = Duration::from_secs(60);

pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever the server complained about is worth seeing.
        if let Ok(text) = std::fs::read_to_string(&self.log) {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if !lines.is_empty() {
                eprintln!("    {} wrote {} log line(s); the first ones:", self.name, lines.len());
                for l in lines.iter().take(20) {
                    eprintln!("      {}", l.chars().take(300).collect::<String>());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one server's configuration, store and log.
pub fn work_dir(name: &str) -> anyhow::Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hallcall-load-{}-{n}-{name}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A port free right now on `host` (the child binds it a moment later).
pub fn free_port(host: IpAddr) -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((host, 0)).context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// Asks the kernel to kill the child when this tool dies.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; prctl and getppid are
    // async-signal-safe and allocate nothing.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The tool died before the request took effect.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("the load tool has exited"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

impl Server {
    /// Starts `cmd` (its output going to a log in `dir`) and waits until
    /// `ready_path` answers 200.
    pub async fn start(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        dir: PathBuf,
        ready_path: &str,
    ) -> anyhow::Result<Server> {
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().with_context(|| format!("cannot start {name} ({cmd:?})"))?;
        let mut server = Server {
            name,
            addr,
            child,
            dir,
            log,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited at start ({status}): {}", tail(&server.log));
            }
            if let Ok((200, _)) = http_client::once(addr, "GET", ready_path, None).await {
                break;
            }
            if started.elapsed() > READY_CAP {
                bail!("{name} was not ready within {READY_CAP:?}: {}", tail(&server.log));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// SIGKILL, and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid())
    }

    /// User plus system CPU time so far.
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        cpu(&format!("/proc/{}/stat", self.pid()))
    }
}

fn tail(log: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(10);
    if lines.is_empty() {
        "(no output)".into()
    } else {
        lines[start..].join("\n")
    }
}

/// VmRSS of a process, KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// utime + stime from a /proc stat file. Clock ticks are taken as 100 Hz
/// (USER_HZ on Linux; reading sysconf would need libc).
pub fn cpu(stat_path: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(stat_path).with_context(|| format!("cannot read {stat_path}"))?;
    // The command name may hold spaces: fields are counted after its ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After ')' come state (field 3) ..., utime is field 14, stime 15.
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(Duration::from_millis((ticks(14) + ticks(15)) * 10))
}

/// This process's own CPU time.
pub fn own_cpu() -> Duration {
    cpu("/proc/self/stat").unwrap_or_default()
}

/// CPU used by a server and by this client over a stretch of a run.
pub struct CpuMeter {
    server: Duration,
    client: Duration,
    at: Instant,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CpuUse {
    /// Cores busy on average over the stretch.
    pub server_cores: f64,
    pub client_cores: f64,
}

impl CpuMeter {
    pub fn start(s: &Server) -> CpuMeter {
        CpuMeter {
            server: s.cpu().unwrap_or_default(),
            client: own_cpu(),
            at: Instant::now(),
        }
    }

    pub fn stop(&self, s: &Server) -> CpuUse {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        CpuUse {
            server_cores: (s.cpu().unwrap_or_default().saturating_sub(self.server)).as_secs_f64() / secs,
            client_cores: (own_cpu().saturating_sub(self.client)).as_secs_f64() / secs,
        }
    }
}

/// How long after the load stopped the server kept working (CPU above 5%
/// of a core), up to `limit`: a server still busy then was behind.
pub async fn busy_after(s: &Server, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut last = s.cpu().unwrap_or_default();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = s.cpu().unwrap_or_default();
        if now.saturating_sub(last) <= Duration::from_millis(10) || start.elapsed() >= limit {
            return start.elapsed().saturating_sub(Duration::from_millis(200));
        }
        last = now;
    }
}
