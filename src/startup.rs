//! Builds the application from its settings and serves it. The listener is
//! bound here (port 0 works, for tests) and the shutdown signal comes from
//! the caller.
//!
//! Start-up order: open the store and read every hall back (a torn journal
//! tail is repaired and reported; corrupt data stops the start with an
//! error naming where), rebuild each hall from its snapshot and the events
//! after it, then serve.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::archive::Archive;
use crate::audio::{Announcer, Clips};
use crate::auth::directory::Directory;
use crate::auth::{Keys, load_or_create_secret};
use crate::cli::{Args, StoreUrl};
use crate::cluster::keeper::{Keeper, NodeSettings};
use crate::config::ServerConfig;
use crate::http::serve::{ConnCounts, ConnLimits, serve};
use crate::http::{AppState, Limits, Shared, router};
use crate::hub::{Heartbeat, Hub};
use crate::metrics::Metrics;
use crate::service::{Clock, Service, system_clock};
use crate::shards::Halls;
use crate::store::journal::JournalOptions;
use crate::store::{Location, Store, StoreConfig, Stream};

/// How often every hall is sent the time (day rollover, due appointments).
const TICK: Duration = Duration::from_secs(5);

/// How often refused sign-ins, counted meanwhile, go to the audit log.
const REFUSALS_EVERY: Duration = Duration::from_secs(60);

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    service: Service,
    hub: Hub,
    keys: Arc<Keys>,
    announcer: Announcer,
    metrics: Arc<Metrics>,
    public_url: Option<Arc<str>>,
    conn_limits: ConnLimits,
    conn_counts: ConnCounts,
    proxies: crate::http::proxies::TrustedProxies,
    archive: Option<Archive>,
    directory: Option<Arc<Directory>>,
    /// Citizens' contacts and their key, for notices.
    notices: Option<crate::notices::Kit>,
    /// This node's part in a cluster: with Redis as the store.
    keeper: Option<Keeper>,
    stream: Stream,
}

impl Application {
    /// Opens the store, rebuilds the halls and binds `args.listen`.
    ///
    /// # Errors
    /// The store cannot be opened or read back, or the address cannot be bound.
    pub async fn build(args: &Args, config: &ServerConfig) -> anyhow::Result<Application> {
        Application::build_with_clock(args, config, system_clock()).await
    }

    /// As [`Application::build`], with the time taken from `clock`.
    ///
    /// # Errors
    /// As for [`Application::build`].
    pub async fn build_with_clock(args: &Args, config: &ServerConfig, clock: Clock) -> anyhow::Result<Application> {
        check_sample_passwords(config, args.demo)?;
        let location = match &args.store {
            StoreUrl::File(dir) => Location::Journal(dir.clone()),
            StoreUrl::Redis(url) => Location::Redis(url.clone()),
        };
        let clips = Clips::load(&args.sounds)
            .with_context(|| format!("cannot load the voice clips in {}", args.sounds.display()))?;
        for hall in &config.halls {
            clips.check(hall).context("a voice template cannot be said")?;
        }
        let announcer = Announcer::new(Arc::new(clips));
        // Checked before the store is touched.
        let person = person_keys(args)?;
        let hall_ids: Vec<_> = config.halls.iter().map(|h| h.spec.id).collect();
        let secret = load_or_create_secret(&location, args.new_secret, &hall_ids)
            .await
            .with_context(|| format!("cannot read or create the signing secret in {}", args.store))?;
        let keys = Keys::with_person_keys(&secret, &person);
        if !keys.person_key_is_external() {
            tracing::warn!(
                "ID and phone numbers are hashed with a key derived from the store's secret: anyone with a copy \
                 of the store can test guesses against them; give --person-key-file (docs/deploy.md)"
            );
        }
        let metrics = Arc::new(Metrics::default());
        let opened = Store::open(StoreConfig {
            location,
            journal: JournalOptions::default(),
            halls: config.halls.iter().map(|h| h.spec.clone()).collect(),
            retention_days: args.retention_days,
            metrics: Some(metrics.clone()),
        })
        .await
        .with_context(|| format!("cannot open the store {}", args.store))?;
        if let Some(warning) = &opened.warning {
            tracing::warn!(%warning, "the store may lose acknowledged operations in a crash");
        }
        if let Some(note) = &opened.repaired {
            tracing::warn!(repair = %note, "the store was repaired at start");
        }
        for hall in &opened.halls {
            tracing::info!(hall = %hall.spec().id, seq = hall.seq(), day = ?hall.business_day(), "hall ready");
        }
        open_files_for(config, &args.connections.limits());
        for id in &opened.unknown {
            tracing::warn!(hall = %id, "the store holds a hall the configuration does not have; ignored");
        }
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // The stream's subscribers, before the first operation.
        let hub = Hub::start(&opened.stream, Heartbeat::default()).context("cannot start the hub")?;
        crate::metrics::count_from(&opened.stream, metrics.clone());
        let archive = match &args.archive {
            Some(url) => Some(Archive::start_with(
                url,
                args.archive_ca_file.as_deref(),
                &opened.stream,
                config.halls.iter().map(|h| h.spec.clone()).collect(),
            )?),
            None => None,
        };
        let directory = match &config.directory {
            Some(d) => {
                let directory = Directory::new(d).map_err(anyhow::Error::msg)?;
                tracing::info!(url = %directory.url(), "staff may sign in through the directory");
                Some(Arc::new(directory))
            }
            None => None,
        };
        let notices = notice_kit(args, config, opened.redis.as_ref())?;
        let halls = Halls::from_halls(config, opened.halls);
        start_device_announcer(&announcer, &opened.stream, &halls)?;
        let keeper = match &opened.redis {
            Some(redis) => {
                let settings = node_settings(args, config, listener.local_addr()?)?;
                tracing::info!(node = %settings.node, url = %settings.url, "a node of the halls on Redis");
                let mut keeper = Keeper::new(
                    settings,
                    redis.clone(),
                    (opened.store.clone(), opened.stream.clone()),
                    halls.clone(),
                )?;
                keeper.settle().await;
                tracing::info!(owned = keeper.owned().len(), "halls owned by this node");
                Some(keeper)
            }
            None => None,
        };
        let service = Service {
            halls,
            store: opened.store,
            clock,
            slow: Arc::new(crate::service::SlowWrites::new(Duration::from_secs(
                args.write_timeout_secs,
            ))),
        };
        service.seed_configs(args.import_config.then_some(config)).await;
        for hall in &config.halls {
            if let Ok(running) = service.halls.config(hall.spec.id)
                && running.version > 0
                && !crate::config::same_document(&running.text, &hall.text)
            {
                tracing::warn!(
                    hall = %hall.spec.id,
                    version = running.version,
                    "the configuration file differs from the version in the store, which is used: \
                     change the hall from its administration page, or start with --import-config to record the file"
                );
            }
        }
        Ok(Application {
            listener,
            service,
            hub,
            keys: Arc::new(keys),
            announcer,
            metrics,
            public_url: args.public_url.as_deref().map(Arc::from),
            conn_limits: args.connections.limits(),
            conn_counts: ConnCounts::default(),
            proxies: args.connections.proxies(),
            archive,
            directory,
            notices,
            keeper,
            stream: opened.stream,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Anonymous connections open now (see [`crate::http::serve`]).
    pub fn conn_counts(&self) -> ConnCounts {
        self.conn_counts.clone()
    }

    /// Changes the live connections' timing (tests use seconds, not tens).
    pub fn set_heartbeat(&mut self, heartbeat: Heartbeat) {
        self.hub.heartbeat = heartbeat;
    }

    /// Serves until `shutdown` completes: stops accepting, closes every
    /// WebSocket with "going away", finishes in-flight requests, then
    /// snapshots every hall and waits for the store.
    ///
    /// # Errors
    /// The server fails to accept connections.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(%addr, "hallcall listening: open http://{addr}/ in a browser for the pages");
        let limits = Arc::new(Limits::default());
        let ticker = {
            let service = self.service.clone();
            let limits = limits.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(TICK);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut flushed = tokio::time::Instant::now();
                loop {
                    every.tick().await;
                    service.tick_all().await;
                    if flushed.elapsed() >= REFUSALS_EVERY {
                        limits.refused_sign_ins.flush(&service).await;
                        flushed = tokio::time::Instant::now();
                    }
                }
            })
        };
        // After the halls are rebuilt and owned: each starts after its
        // outbox's record, so starting late misses nothing.
        let outbox = crate::outbox::Outbox::start(
            &self.service,
            &self.stream,
            crate::outbox::Extras {
                notices: self.notices.clone(),
                keys: self.keys.clone(),
                public_url: self.public_url.clone(),
            },
        )?;
        let app = router(AppState::new(Shared {
            service: self.service.clone(),
            hub: self.hub.clone(),
            keys: self.keys.clone(),
            limits: limits.clone(),
            announcer: self.announcer.clone(),
            public_url: self.public_url.clone(),
            metrics: self.metrics.clone(),
            proxies: self.proxies.clone(),
            pairings: Arc::default(),
            archive: self.archive.clone(),
            outbox: Some(outbox.clone()),
            notices: self.notices.clone(),
            directory: self.directory.clone(),
            cluster: match &self.keeper {
                Some(k) => Some(crate::http::Cluster::new(
                    k.placement(),
                    k.me().node.clone(),
                    self.stream.clone(),
                )?),
                None => None,
            },
        }));
        let hub = self.hub.clone();
        let (stop_keeper, keeper_stopped) = tokio::sync::watch::channel(false);
        let mut keeper_task = None;
        let mut follower = None;
        if let Some(keeper) = self.keeper {
            follower = self.service.store.redis().map(|redis| {
                tokio::spawn(crate::cluster::keeper::follow_published(
                    redis,
                    self.service.store.clone(),
                    self.stream.clone(),
                    self.service.halls.clone(),
                ))
            });
            keeper_task = Some(tokio::spawn(keeper.run(keeper_stopped)));
        }
        let served = serve(
            self.listener,
            app,
            self.conn_limits,
            (self.conn_counts.clone(), self.proxies.clone()),
            async move {
                shutdown.await;
                tracing::info!("shutting down: closing live connections");
                hub.close_all();
            },
            Duration::from_secs(10),
        )
        .await
        .context("server failed");
        ticker.abort();
        limits.refused_sign_ins.flush(&self.service).await;
        self.hub.drained(Duration::from_secs(2)).await;
        outbox.stop(Duration::from_secs(2)).await;
        self.service.checkpoint().await;
        tracing::info!("state flushed to the store");
        // Snapshots first, then the halls go to other nodes.
        if let Some(task) = keeper_task {
            let _ = stop_keeper.send(true);
            let _ = task.await;
            tracing::info!("halls handed over");
        }
        if let Some(f) = follower {
            f.abort();
        }
        if let Some(archive) = &self.archive {
            archive.settle(Duration::from_secs(5)).await;
        }
        served
    }
}

/// Where contacts are kept (beside the store) and the key they are sealed
/// with: needed when a hall sends notices.
fn notice_kit(
    args: &Args,
    config: &ServerConfig,
    redis: Option<&crate::store::redis_store::RedisStore>,
) -> anyhow::Result<Option<crate::notices::Kit>> {
    let wanted = config.halls.iter().any(|h| h.outbound.notices.is_some());
    let Some(path) = &args.notice_key_file else {
        if wanted {
            anyhow::bail!(
                "a hall sends notices ([hall.notices]) but no --notice-key-file is given: citizens' numbers \
                 are kept sealed with a key held outside the store (make one with `openssl rand -hex 32`)"
            );
        }
        return Ok(None);
    };
    let sealer = crate::notices::Sealer::read(path).map_err(anyhow::Error::msg)?;
    let contacts = match (&args.store, redis) {
        (_, Some(r)) => crate::notices::Contacts::Redis(r.clone()),
        (StoreUrl::File(dir), None) => crate::notices::Contacts::Dir(dir.clone()),
        (StoreUrl::Redis(_), None) => anyhow::bail!("the Redis store is not open"),
    };
    Ok(Some(crate::notices::Kit { contacts, sealer }))
}

/// Who this node is: `--node-id` (default: host name and port) and
/// `--advertise` (default: http:// and the listening address), with
/// `--pin`s checked against the halls.
fn node_settings(args: &Args, config: &ServerConfig, bound: SocketAddr) -> anyhow::Result<NodeSettings> {
    let node = match &args.node.node_id {
        Some(id) => id.clone(),
        None => {
            let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
            let host: String = host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{host}-{}", bound.port())
        }
    };
    anyhow::ensure!(
        crate::cli::valid_node_id(&node),
        "--node-id {node:?}: use letters, digits, '.', '-' and '_' (at most 64)"
    );
    let url = match &args.node.advertise {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            anyhow::ensure!(
                !bound.ip().is_unspecified(),
                "listening on {bound} with Redis as the store: give --advertise http://HOST:PORT, where other nodes reach this one"
            );
            format!("http://{bound}")
        }
    };
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "--advertise {url:?}: give http://HOST:PORT"
    );
    let mut pins = std::collections::HashMap::new();
    for (hall, pinned) in &args.node.pin {
        let id = crate::engine::Code::new(hall).map_err(|e| anyhow::anyhow!("--pin {hall}={pinned}: {e}"))?;
        anyhow::ensure!(
            config.halls.iter().any(|h| h.spec.id == id),
            "--pin {hall}={pinned}: no such hall in the configuration"
        );
        anyhow::ensure!(
            crate::cli::valid_node_id(pinned),
            "--pin {hall}={pinned}: not a node name"
        );
        pins.insert(id, pinned.clone());
    }
    Ok(NodeSettings { node, url, pins })
}

/// Raises the open-file limit to its hard limit (every connection is a
/// file; the common soft limit of 1,024 falls to a flood of idle sockets)
/// and warns when even that is low for the halls' screens and consoles.
fn open_files_for(config: &ServerConfig, limits: &ConnLimits) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let mut soft = now.current;
    if now.current != now.maximum {
        let raised = Rlimit {
            current: now.maximum,
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => soft = now.maximum,
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
    // Per window a console, a window screen and an evaluator; per hall a
    // few hall screens and LED boards; and the anonymous connections.
    let screens: usize = config.halls.iter().map(|h| h.spec.windows.len() * 3 + 32).sum();
    let need = (screens + limits.max_anonymous + 256) as u64;
    match soft {
        Some(have) if have < need => tracing::warn!(
            open_files = have,
            need,
            "the open-file limit is low for this many screens and connections: raise it (ulimit -n, or LimitNOFILE= in a systemd unit)"
        ),
        _ => tracing::info!(open_files = ?soft, "open-file limit"),
    }
}

/// Accounts that still have the sample configurations' password
/// (`hallcall-demo`) are fine for a trial on a desk (`--demo`: a warning),
/// never on a network: without `--demo` the start is refused.
fn check_sample_passwords(config: &ServerConfig, demo: bool) -> anyhow::Result<()> {
    if !demo {
        let sample: Vec<String> = config
            .halls
            .iter()
            .flat_map(|h| {
                h.accounts
                    .iter()
                    .filter(|a| a.password_hash == crate::auth::SAMPLE_HASH)
                    .map(move |a| format!("{}/{}", h.spec.id, a.user))
            })
            .collect();
        if !sample.is_empty() {
            anyhow::bail!(
                "{} account(s) still have the sample password hallcall-demo ({}{}): give each its own \
                 (echo '…' | hallcall --hash-password), or start with --demo for a trial on this machine",
                sample.len(),
                sample.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if sample.len() > 5 { ", …" } else { "" }
            );
        }
        return Ok(());
    }
    for hall in &config.halls {
        let users: Vec<&str> = hall
            .accounts
            .iter()
            .filter(|a| a.password_hash == crate::auth::SAMPLE_HASH)
            .map(|a| a.user.as_str())
            .collect();
        if !users.is_empty() {
            tracing::warn!(
                hall = %hall.spec.id,
                accounts = users.len(),
                first = %users.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                "demo mode: accounts still have the sample password (hallcall-demo): give each its own \
                 (echo '…' | hallcall --hash-password) before the server faces a network"
            );
        }
    }
    Ok(())
}

/// Starts the announcer for halls that play through the server's sound
/// card, subscribed to the durable event stream.
fn start_device_announcer(announcer: &Announcer, stream: &Stream, halls: &Halls) -> anyhow::Result<()> {
    // The sound card is opened when a hall plays there at start; a hall
    // that turns it on later plays once the server restarts.
    let plays = |h| halls.config(h).is_ok_and(|c| c.voice.play_device);
    if !halls.ids().any(plays) {
        return Ok(());
    }
    #[cfg(feature = "audio-output")]
    {
        match crate::audio::Device::open() {
            Ok(device) => {
                let (halls, owners) = (halls.clone(), halls.clone());
                // The voice in force at each call: a configuration change
                // (template, repeat, gap, playing here or not) applies at once.
                crate::audio::spawn_announcer(
                    announcer.clone(),
                    move |hall| {
                        let c = halls.config(hall).ok()?;
                        c.voice.play_device.then(|| c.voice.clone())
                    },
                    stream.subscribe(),
                    Box::new(device),
                    move |hall| owners.is_owned(hall),
                );
                tracing::info!("announcing calls through the sound card");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "no sound card: announcements play in the hall display pages only");
                Ok(())
            }
        }
    }
    #[cfg(not(feature = "audio-output"))]
    {
        let _ = (announcer, stream, halls);
        tracing::warn!(
            "a hall plays announcements on the sound card, but this build has no audio output \
             (build with --features audio-output)"
        );
        Ok(())
    }
}

/// The person keys named on the command line, read and checked.
fn person_keys(args: &Args) -> anyhow::Result<crate::auth::PersonKeys> {
    let read = |path: &std::path::Path| -> anyhow::Result<Vec<u8>> {
        if let StoreUrl::File(dir) = &args.store
            && let (Ok(store), Ok(key)) = (dir.canonicalize(), path.canonicalize())
            && key.starts_with(&store)
        {
            anyhow::bail!(
                "the person key {} is inside the store's directory: keep it outside the store and its backups",
                path.display()
            );
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the person key {}", path.display()))?;
        let hex = text.trim();
        if hex.len() < 32 || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            anyhow::bail!(
                "the person key {} is not hex of at least 16 bytes (make one with: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n')",
                path.display()
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(file = %path.display(), "the person key can be read by other users: chmod 600 it");
            }
        }
        Ok(hex.as_bytes().to_vec())
    };
    if args.person_key_file.is_none() && !args.earlier_person_key_file.is_empty() {
        anyhow::bail!("--earlier-person-key-file needs --person-key-file (the key in use now)");
    }
    Ok(crate::auth::PersonKeys {
        current: args.person_key_file.as_deref().map(read).transpose()?,
        earlier: args
            .earlier_person_key_file
            .iter()
            .map(|p| read(p))
            .collect::<anyhow::Result<_>>()?,
    })
}
