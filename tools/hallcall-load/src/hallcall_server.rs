//! hallcall as the server under test: a generated configuration, the
//! release binary as a child process, and the sign-ins.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use hallcall::auth::{Claims, Keys, STAFF_SESSION_MS};
use hallcall::engine::HallId;

use crate::http_client::HttpConn;
use crate::servers::{Server, free_port, work_dir};

/// The sample hash from config/hall.toml: every account's password is
/// "hallcall-demo".
const DEMO_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$z5rI4j4g1EmAgp3zGxcTJw$GbaB6JrEHunOwNudcCKdXVKdTLHBAufqbhikHa+qwQw";

/// What the halls look like: all alike, `windows` windows serving one zone.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub halls: usize,
    pub windows: u16,
}

pub fn hall_id(i: usize) -> String {
    format!("h{i:04}")
}

/// One zone `general` (prefix A, service `apply`), open all day, six-digit
/// numbers so a long run does not run out at 999, no one-ticket-per-person
/// rule (the tool issues without ID numbers anyway), windows unpaused.
pub fn config(layout: Layout) -> String {
    let mut s = String::with_capacity(layout.halls * 1200);
    for h in 0..layout.halls {
        let id = hall_id(h);
        let _ = writeln!(
            s,
            "[[hall]]\nid = \"{id}\"\nname = \"Load hall {id}\"\ntime_zone = \"Etc/UTC\"\n\nwindow = ["
        );
        for w in 1..=layout.windows {
            let _ = writeln!(
                s,
                "  {{ number = {w}, name = \"Window {w}\", serves = [\"general\"] }},"
            );
        }
        s.push_str("]\naccount = [\n");
        for (user, role) in [("admin", "admin"), ("display", "display"), ("guide", "guide")] {
            let _ = writeln!(
                s,
                "  {{ user = \"{user}\", role = \"{role}\", password = \"{DEMO_HASH}\" }},"
            );
        }
        s.push_str(
            "]\n\n[hall.policy]\nnumber_digits = 6\none_waiting_ticket_per_person = false\nopen_paused = false\n\n\
             [[hall.zone]]\nid = \"general\"\nname = \"General\"\nprefix = \"A\"\n\
             service = [{ id = \"apply\", name = \"Apply\" }]\n\n",
        );
    }
    s
}

/// The tokens a run uses in one hall.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub admin: String,
    pub display: String,
    pub guide: String,
}

pub struct Hallcall {
    pub server: Server,
    keys: Keys,
    /// Tokens of hall 0, from real sign-ins.
    pub first: Tokens,
}

/// Where a started hallcall keeps its state.
#[derive(Debug, Clone)]
pub enum StoreArg {
    /// A fresh embedded journal, its signing secret written beside it.
    Journal,
    /// A node on a Redis whose `hallcall:secret` the caller has set to
    /// `secret` (hex), with the node's name and pins (`HALL=NODE`).
    Redis {
        url: String,
        secret: String,
        node: String,
        pins: Vec<String>,
    },
}

impl Hallcall {
    /// Writes the configuration and a signing secret, starts the binary and
    /// waits for `/readyz`, then signs in to hall 0.
    pub async fn start(bin: &Path, host: std::net::IpAddr, layout: Layout) -> anyhow::Result<Hallcall> {
        Hallcall::start_on(bin, host, layout, &StoreArg::Journal).await
    }

    /// As [`Hallcall::start`], on the store given.
    pub async fn start_on(
        bin: &Path,
        host: std::net::IpAddr,
        layout: Layout,
        store_arg: &StoreArg,
    ) -> anyhow::Result<Hallcall> {
        if !bin.is_file() {
            bail!(
                "{} not found: build it first (cargo build --release --workspace --bins) or pass --hallcall PATH",
                bin.display()
            );
        }
        let dir = work_dir("hallcall")?;
        let cfg_path = dir.join("halls.toml");
        std::fs::write(&cfg_path, config(layout)).context("cannot write the configuration")?;
        // The signing secret is made beside the journal the first time; made
        // here instead, the tool can sign the tokens of a thousand halls
        // itself rather than through a thousand rate-limited, deliberately
        // slow password sign-ins. Checked against a real sign-in below.
        let addr = SocketAddr::new(host, free_port(host)?);
        let mut cmd = Command::new(bin);
        let secret = match store_arg {
            StoreArg::Journal => {
                let store = dir.join("store");
                std::fs::create_dir_all(&store)?;
                let secret = fresh_secret()?;
                std::fs::write(store.join("secret.key"), &secret)?;
                cmd.arg("--store").arg(format!("file:{}", store.display()));
                secret
            }
            StoreArg::Redis {
                url,
                secret,
                node,
                pins,
            } => {
                cmd.args(["--store", url, "--node-id", node]);
                for pin in pins {
                    cmd.args(["--pin", pin]);
                }
                secret.clone()
            }
        };
        cmd.arg("--listen")
            .arg(addr.to_string())
            .arg("--config")
            .arg(&cfg_path)
            // HALLCALL_LOG=info shows snapshots and journal segments with
            // their timings, when looking for what stalls.
            .env(
                "RUST_LOG",
                std::env::var("HALLCALL_LOG").unwrap_or_else(|_| "warn".into()),
            );
        // Every screen and worker connects from this one address, a
        // thousand at once: lift the per-address cap on connections not
        // yet signed in (binaries from before it had none).
        let help = Command::new(bin)
            .arg("--help")
            .output()
            .context("cannot run hallcall --help")?;
        let help = String::from_utf8_lossy(&help.stdout);
        if help.contains("--demo") {
            // Every account has the sample password.
            cmd.arg("--demo");
        }
        if help.contains("--max-anonymous-per-address") {
            cmd.args([
                "--max-anonymous-per-address",
                "1000000",
                "--max-anonymous-connections",
                "1000000",
            ]);
        }
        let server = Server::start("hallcall", cmd, addr, dir, "/readyz").await?;
        let keys = Keys::from_secret(secret.as_bytes());
        let mut me = Hallcall {
            server,
            keys,
            first: Tokens::default(),
        };
        me.first = me.tokens(0).await?;
        // A token signed here opens the hall, so the server uses this
        // secret. No password sign-in: each takes argon2's 19 MiB of
        // working memory, which the allocator keeps a while, and the idle
        // screens connecting after it reused it (their memory read 0.3 KiB
        // a screen).
        let mut c = crate::http_client::HttpConn::connect(addr).await?;
        let status = c
            .request(
                "GET",
                &format!("/api/v1/halls/{}", hall_id(0)),
                Some(&me.first.admin),
                None,
            )
            .await?;
        if status != 200 {
            bail!(
                "hallcall did not take a token signed with the secret written beside its store ({status}): the store layout changed?"
            );
        }
        Ok(me)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Kills the server outright (SIGKILL), as a machine dying would.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    fn sign(&self, hall: usize, user: &str, expires: i64) -> anyhow::Result<String> {
        let hall = HallId::new(&hall_id(hall)).map_err(|e| anyhow::anyhow!("hall id: {e}"))?;
        Ok(self.keys.sign(
            &Claims {
                hall,
                user: user.to_owned(),
                expires,
                device: None,
                pass: false,
                started: None,
                granted: None,
            },
            DEMO_HASH,
        ))
    }

    /// The tokens of hall `i`: staff tokens signed here with the same
    /// claims a sign-in gives; the screens' token from the administrator's
    /// device route (a device's token names a device the hall keeps), one
    /// device for all the hall's screens.
    pub async fn tokens(&self, hall: usize) -> anyhow::Result<Tokens> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let admin = self.sign(hall, "admin", now + STAFF_SESSION_MS)?;
        let mut c = crate::http_client::HttpConn::connect(self.server.addr).await?;
        let status = c
            .request(
                "POST",
                &format!("/api/v1/halls/{}/devices", hall_id(hall)),
                Some(&admin),
                Some(br#"{"account":"display","name":"load"}"#),
            )
            .await?;
        if status != 201 {
            bail!("no display device for hall {hall}: {status}");
        }
        let session: serde_json::Value = serde_json::from_slice(c.body()).context("a device's session")?;
        let display = session["token"].as_str().context("a device token")?.to_owned();
        Ok(Tokens {
            guide: self.sign(hall, "guide", now + STAFF_SESSION_MS)?,
            admin,
            display,
        })
    }
}

/// 32 random bytes in hex: a signing secret.
pub fn fresh_secret() -> anyhow::Result<String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(secret.iter().map(|b| format!("{b:02x}")).collect())
}

pub const ISSUE_BODY: &[u8] = br#"{"zone":"general","service":"apply"}"#;

/// Issues one ticket in `hall`.
pub async fn issue(c: &mut HttpConn, hall: &str, guide: &str) -> anyhow::Result<()> {
    let path = format!("/api/v1/halls/{hall}/tickets");
    let status = c.request("POST", &path, Some(guide), Some(ISSUE_BODY)).await?;
    if status != 201 {
        bail!("issue in {hall}: {status} {}", String::from_utf8_lossy(c.body()));
    }
    Ok(())
}

/// A window action; returns the window's current ticket number after it.
pub async fn window(
    c: &mut HttpConn,
    hall: &str,
    window: u16,
    action: &str,
    admin: &str,
) -> anyhow::Result<Option<u32>> {
    let path = format!("/api/v1/halls/{hall}/windows/{window}/{action}");
    let status = c.request("POST", &path, Some(admin), None).await?;
    if status != 200 {
        bail!(
            "{action} on {hall} window {window}: {status} {}",
            String::from_utf8_lossy(c.body())
        );
    }
    let v: serde_json::Value = serde_json::from_slice(c.body()).context("window answer")?;
    Ok(v["window"]["current"]
        .as_str()
        .and_then(|t| crate::ws_client::ticket_number(t.as_bytes())))
}

/// The screens' path for hall `i`, with the display's token after `#`
/// for the `Authorization` header (see `ws_client::Display::connect`).
pub fn live_path(hall: usize, display: &str) -> String {
    format!("/api/v1/halls/{}/live#{display}", hall_id(hall))
}

/// Opens `windows` windows and issues `tickets` tickets in each hall, over
/// `conns` connections at once, before any screen connects (so none of
/// these frames reach a screen).
pub async fn prepare(
    addr: SocketAddr,
    tokens: &[Tokens],
    windows: u16,
    tickets: usize,
    conns: usize,
) -> anyhow::Result<()> {
    let tokens = std::sync::Arc::new(tokens.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..conns.min(tokens.len()).max(1) {
        let tokens = tokens.clone();
        tasks.spawn(async move {
            let mut c = HttpConn::connect(addr).await?;
            for h in (k..tokens.len()).step_by(conns.max(1)) {
                let id = hall_id(h);
                for w in 1..=windows {
                    window(&mut c, &id, w, "open", &tokens[h].admin).await?;
                }
                for _ in 0..tickets {
                    issue(&mut c, &id, &tokens[h].guide).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a set-up task failed")??;
    }
    Ok(())
}
