//! The command line: `hallcall [--config FILE] [--listen ADDR] [--store URL]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;

/// Where durable state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded store in a data directory: `file:./data`.
    File(PathBuf),
    /// A Redis server: `redis://127.0.0.1:6379/0`, or a Redis Cluster:
    /// `redis+cluster://10.0.0.1:7000,10.0.0.2:7000`.
    Redis(String),
}

impl FromStr for StoreUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err("file: needs a directory, as in file:./data".into());
            }
            Ok(StoreUrl::File(PathBuf::from(path)))
        } else if s.starts_with("redis://")
            || s.starts_with("rediss://")
            || s.starts_with("redis+unix://")
            || s.starts_with("redis+cluster://")
        {
            Ok(StoreUrl::Redis(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a store URL: use file:DIR, redis://HOST:PORT/DB or redis+cluster://HOST:PORT,HOST:PORT"
            ))
        }
    }
}

/// Shown in logs and errors: a Redis URL's credentials are replaced by `***`.
impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::File(p) => write!(f, "file:{}", p.display()),
            StoreUrl::Redis(u) => f.write_str(&crate::store::redis_store::redacted(u)),
        }
    }
}

/// Queue-calling and hall-display server for government service halls.
#[derive(Debug, Clone, Parser)]
#[command(name = "hallcall", version, about)]
pub struct Args {
    /// The halls: zones, services, windows and policy (TOML).
    #[arg(long, default_value = "config/hall.toml")]
    pub config: PathBuf,
    /// Address to serve HTTP and WebSockets on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where state is kept: file:DIR (embedded), redis://HOST:PORT/DB or
    /// redis+cluster://HOST:PORT,HOST:PORT (a Redis Cluster).
    #[arg(long, default_value = "file:./data")]
    pub store: StoreUrl,
    /// Business days of events kept for reports (older ones are deleted
    /// once snapshots cover them).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub retention_days: u32,
    /// Copy every hall's events into PostgreSQL for years of history
    /// (postgres://USER@HOST:PORT/DB; see docs/archive.md). Optional.
    #[arg(long, env = "HALLCALL_ARCHIVE")]
    pub archive: Option<String>,
    /// The authority that signed the archive's PostgreSQL certificate
    /// (PEM), for an --archive address with sslmode=require.
    #[arg(long, env = "HALLCALL_ARCHIVE_CA_FILE")]
    pub archive_ca_file: Option<PathBuf>,
    /// The address citizens' phones reach this server at, for the QR code on
    /// tickets (e.g. https://hall.example.gov.cn); default: the address
    /// each request came to.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The clips announcements are composed from (see sounds/README.md).
    #[arg(long, default_value = "sounds")]
    pub sounds: PathBuf,
    #[command(flatten)]
    pub connections: ConnArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Seconds an operation waits for the store to confirm its write before
    /// it is answered 503 `store_slow` (the write still lands when the
    /// store answers; the server is not ready meanwhile).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub write_timeout_secs: u64,
    /// A trial on this machine: accounts may keep the sample password
    /// (hallcall-demo), with a warning; without it such a start is refused.
    #[arg(long)]
    pub demo: bool,
    /// Records each hall of the --config file as a new configuration
    /// version where it differs from the store's. Without it the store's
    /// versions are used and the file only seeds a new store.
    #[arg(long, env = "HALLCALL_IMPORT_CONFIG")]
    pub import_config: bool,
    /// Writes every hall's configuration as the --store runs it to FILE
    /// (`-`: standard output), as a file --config reads, then exits. Safe
    /// beside a running server.
    #[arg(long, value_name = "FILE")]
    pub export_config: Option<PathBuf>,
    /// Make a new signing secret when the store has lost its own (every
    /// signed-in device and ticket link then stops matching).
    #[arg(long)]
    pub new_secret: bool,
    /// A file holding the key that hashes ID and phone numbers (64 hex
    /// digits: `od -An -tx1 -N32 /dev/urandom | tr -d ' \n'`). Keep it
    /// outside the store and its backups: with the store alone a hash can
    /// then not be tested against guesses. Without it the key comes from
    /// the store's secret (docs/deploy.md).
    #[arg(long, env = "HALLCALL_PERSON_KEY_FILE")]
    pub person_key_file: Option<PathBuf>,
    /// A person key used before a rotation (repeatable): people the halls
    /// know under it keep their hash while their tickets and appointments
    /// last (docs/deploy.md).
    #[arg(long)]
    pub earlier_person_key_file: Vec<PathBuf>,
    /// A file holding the key citizens' phone numbers and openids are
    /// sealed with while their day lasts (64 hex digits: `openssl rand
    /// -hex 32`). Needed when a hall sends notices (`[hall.notices]`);
    /// keep it outside the store and its backups (docs/integrations.md).
    #[arg(long, env = "HALLCALL_NOTICE_KEY_FILE")]
    pub notice_key_file: Option<PathBuf>,
    /// Check the configuration, print a summary and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Read a password (or a kiosk's PIN, 4+ digits) from standard input,
    /// print its hash for an account's `password` (or `pin`) in the
    /// configuration, and exit.
    #[arg(long)]
    pub hash_password: bool,
}

/// This process as one node of several on one Redis (docs/cluster.md).
/// Unused with the embedded journal.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NodeArgs {
    /// This node's name, stable across restarts and unique among the
    /// nodes (letters, digits, `.`, `-`, `_`); halls are spread over and
    /// pinned to names. Default: the host's name and the port listened on.
    #[arg(long, env = "HALLCALL_NODE_ID")]
    pub node_id: Option<String>,
    /// Where the other nodes reach this one (http://HOST:PORT), to forward
    /// requests for the halls it owns. Default: http:// and the address
    /// listened on (which must then not be 0.0.0.0).
    #[arg(long, env = "HALLCALL_ADVERTISE")]
    pub advertise: Option<String>,
    /// Keep a hall on a node while that node is up (HALL=NODE, repeatable).
    #[arg(long, value_parser = parse_pin)]
    pub pin: Vec<(String, String)>,
}

fn parse_pin(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((hall, node)) if !hall.is_empty() && !node.is_empty() => Ok((hall.to_owned(), node.to_owned())),
        _ => Err(format!("{s:?} is not HALL=NODE")),
    }
}

/// Whether a node name is one the cluster's keys can carry.
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Connection timeouts and caps (see `src/http/serve.rs`).
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Seconds a client has to send a request's head, from connecting or
    /// from the previous answer (so also how long an idle connection stays).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub head_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub body_timeout_secs: u64,
    /// Connections not yet signed in, in all; past it new ones are closed.
    #[arg(long, default_value_t = 4096)]
    pub max_anonymous_connections: usize,
    /// Connections not yet signed in, per client address.
    #[arg(long, default_value_t = 128)]
    pub max_anonymous_per_address: usize,
    /// A reverse proxy in front of this server (an address or CIDR,
    /// repeatable): its requests are counted against the client it names
    /// in X-Forwarded-For, and its connections not per address
    /// (docs/deploy.md).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ConnArgs {
    fn default() -> Self {
        let d = crate::http::serve::ConnLimits::default();
        ConnArgs {
            head_timeout_secs: d.head_timeout.as_secs(),
            body_timeout_secs: d.body_timeout.as_secs(),
            max_anonymous_connections: d.max_anonymous,
            max_anonymous_per_address: d.max_anonymous_per_address,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ConnArgs {
    pub fn proxies(&self) -> crate::http::proxies::TrustedProxies {
        crate::http::proxies::TrustedProxies::new(&self.trusted_proxies)
    }

    pub fn limits(&self) -> crate::http::serve::ConnLimits {
        crate::http::serve::ConnLimits {
            head_timeout: std::time::Duration::from_secs(self.head_timeout_secs),
            body_timeout: std::time::Duration::from_secs(self.body_timeout_secs),
            max_anonymous: self.max_anonymous_connections,
            max_anonymous_per_address: self.max_anonymous_per_address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_readme() {
        let a = Args::try_parse_from(["hallcall"]).unwrap();
        assert_eq!(a.config, PathBuf::from("config/hall.toml"));
        assert_eq!(a.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(a.store, StoreUrl::File(PathBuf::from("./data")));
    }

    #[test]
    fn store_urls() {
        assert_eq!(
            "redis://127.0.0.1:6379/0".parse::<StoreUrl>().unwrap(),
            StoreUrl::Redis("redis://127.0.0.1:6379/0".into())
        );
        assert!("file:".parse::<StoreUrl>().is_err());
        assert!("postgres://x".parse::<StoreUrl>().is_err());
        assert!(Args::try_parse_from(["hallcall", "--store", "mysql://x"]).is_err());
    }

    #[test]
    fn a_redis_password_never_reaches_a_log_line() {
        let url: StoreUrl = "redis://hall:S3cret!@10.0.0.5:6379/2".parse().unwrap();
        assert_eq!(url.to_string(), "redis://***@10.0.0.5:6379/2");
        let plain: StoreUrl = "redis://127.0.0.1:6379/0".parse().unwrap();
        assert_eq!(plain.to_string(), "redis://127.0.0.1:6379/0");
        let cluster: StoreUrl = "redis+cluster://:pw@10.0.0.5:7000,10.0.0.6:7000".parse().unwrap();
        assert_eq!(cluster.to_string(), "redis+cluster://***@10.0.0.5:7000,10.0.0.6:7000");
    }
}
