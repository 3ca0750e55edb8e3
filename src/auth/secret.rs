//! The server's signing secret: made once, then kept where the state is, so
//! tokens stay valid across restarts and every process sharing a Redis
//! signs alike.

use std::io::Write;
use std::path::Path;

use crate::engine::HallId;
use crate::store::Location;
use crate::store::redis_store::{DEFAULT_PREFIX, RedisStore};

const FILE: &str = "secret.key";

fn fresh() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What a store that lost its secret is told.
fn lost(place: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the signing secret ({place}) is missing but the store holds halls: restore it from a backup, \
         or start once with --new-secret to make a new one (every signed-in screen, kiosk and \
         session, every ticket's QR link and every one-ticket-per-person rule of today then stop matching)"
    )
}

/// Reads the secret kept beside the state, creating it the first time.
/// A store that holds halls but no secret lost it: refused unless
/// `new_secret` says to make another.
///
/// # Errors
/// The file or Redis cannot be read or written, or the secret is lost.
pub async fn load_or_create_secret(location: &Location, new_secret: bool, halls: &[HallId]) -> anyhow::Result<Vec<u8>> {
    let candidate = fresh()?;
    let hex = match location {
        Location::Journal(dir) => {
            let path = dir.join(FILE);
            if !new_secret && !path.exists() && holds_halls(dir) {
                return Err(lost(&path.display().to_string()));
            }
            from_file(&path, &candidate)?
        }
        Location::Redis(url) => {
            let store = RedisStore::connect(url, DEFAULT_PREFIX).await?;
            let mut conn = store.connection();
            let key = format!("{DEFAULT_PREFIX}:secret");
            let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await?;
            if !new_secret && !exists && redis_holds_halls(&store, halls).await? {
                return Err(lost(&key));
            }
            // SET NX then GET: the first process to start decides for all.
            let _: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&candidate)
                .arg("NX")
                .query_async(&mut conn)
                .await?;
            redis::cmd("GET").arg(&key).query_async(&mut conn).await?
        }
    };
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("the stored secret is not hex of at least 16 bytes");
    }
    Ok(hex.into_bytes())
}

/// Whether Redis holds a log of any of `halls`, under today's key names or
/// those before hash tags. Asked key by key: a Redis Cluster cannot scan
/// every node in one command.
async fn redis_holds_halls(store: &RedisStore, halls: &[HallId]) -> anyhow::Result<bool> {
    let mut conn = store.connection();
    const KEYS: [&str; 3] = ["events", "last", "snapshot"];
    for hall in halls {
        // Today's names share a slot, so one EXISTS asks for them all.
        let mut asks = vec![KEYS.map(|what| store.key(*hall, what)).to_vec()];
        if !store.is_cluster() {
            asks.push(KEYS.map(|what| format!("{DEFAULT_PREFIX}:{hall}:{what}")).to_vec());
        }
        for keys in asks {
            let found: u64 = redis::cmd("EXISTS").arg(&keys).query_async(&mut conn).await?;
            if found > 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether the journal directory holds any event or snapshot.
fn holds_halls(dir: &Path) -> bool {
    let journal = std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("journal-")
            && e.metadata()
                .is_ok_and(|m| m.len() > crate::store::journal::EMPTY_SEGMENT)
    });
    let snapshots = std::fs::read_dir(dir.join("snapshots"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".json"));
    journal || snapshots
}

fn from_file(path: &Path, candidate: &str) -> anyhow::Result<String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(s.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    f.write_all(candidate.as_bytes())?;
    f.sync_all()?;
    Ok(candidate.to_owned())
}
