//! A throwaway PostgreSQL for tests: `initdb` into a temporary directory and
//! `postgres` on a free port, killed when dropped. Never the PostgreSQL a
//! machine may already run on 5432, and never skipped: without Debian's
//! `postgresql` package, starting one panics and says how to install it.
//!
//! PostgreSQL refuses to run as root, so under root the server runs as the
//! `postgres` user the package creates (or `nobody`).
#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct PgServer {
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    child: Option<Child>,
    /// Flushes to disk as an installed server does (benchmarks); tests
    /// skip it for speed.
    durable: bool,
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian), or where `initdb` is on PATH.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v initdb"]).output()
        && out.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(dir) = path.parent() {
            return dir.to_path_buf();
        }
    }
    panic!("PostgreSQL's initdb is not installed; these tests need it: apt-get install postgresql");
}

/// The uid and gid to run as when we are root.
fn unprivileged() -> Option<(u32, u32)> {
    if rustix::process::getuid().as_raw() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for name in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 3 && f[0] == name {
                if let (Ok(u), Ok(g)) = (f[2].parse(), f[3].parse()) {
                    return Some((u, g));
                }
            }
        }
    }
    panic!("running as root and no postgres or nobody user to run PostgreSQL as");
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PgServer {
    /// `initdb` and start.
    ///
    /// # Panics
    /// PostgreSQL is missing, or does not start in 30 s.
    pub fn start() -> PgServer {
        PgServer::start_as(false)
    }

    /// As [`PgServer::start`], with `fsync` on as a real installation has.
    pub fn start_durable() -> PgServer {
        PgServer::start_as(true)
    }

    fn start_as(durable: bool) -> PgServer {
        let bin = bin_dir();
        let user = unprivileged();
        let dir = tempfile::Builder::new()
            .prefix("hallcall-pg-")
            .tempdir()
            .expect("a temporary directory for PostgreSQL");
        if let Some((u, g)) = user {
            chown(dir.path(), u, g);
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-N", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((u, g)) = user {
            initdb.uid(u).gid(g);
        }
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = PgServer {
            port: free_port(),
            dir,
            bin,
            user,
            child: None,
            durable,
        };
        pg.run();
        pg
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The address of another database of this server.
    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn run(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .expect("the log file");
        let err = log.try_clone().expect("the log file");
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(if self.durable {
                ["-c", "fsync=on"]
            } else {
                ["-c", "fsync=off"]
            })
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        if let Some((u, g)) = self.user {
            cmd.uid(u).gid(g);
        }
        let mut child = cmd.spawn().expect("run postgres");
        let deadline = Instant::now() + READY_WITHIN;
        // Accepting connections is not yet ready for queries: the test's
        // client retries its first connection anyway.
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("postgres exited with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not listen in time; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Stops the server as an operator would (fast shutdown: SIGINT).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ =
                rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::INT);
            let _ = child.wait();
        }
    }

    /// Serves only TLS connections from now on, with the certificate and
    /// key given (PEM): restarts with `ssl = on` and every TCP line of
    /// `pg_hba.conf` made `hostssl`.
    pub fn require_tls(&mut self, cert: &Path, key: &Path) {
        self.stop();
        let data = self.dir.path().join("data");
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            let dest = data.join(to);
            std::fs::copy(from, &dest).expect("copy the certificate");
            // PostgreSQL refuses a key others may read.
            std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
            if let Some((u, g)) = self.user {
                chown(&dest, u, g);
            }
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).expect("postgresql.conf");
        let hba = data.join("pg_hba.conf");
        let text: String = std::fs::read_to_string(&hba)
            .expect("pg_hba.conf")
            .lines()
            .map(|l| match l.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&hba, text).expect("pg_hba.conf");
        self.run();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn chown(path: &Path, uid: u32, gid: u32) {
    let _ = rustix::fs::chown(
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    );
}
