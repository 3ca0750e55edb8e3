//! The server's signing secret: made once, then kept where the state is, so
//! tokens stay valid across restarts and every process sharing a Redis
//! signs alike.

use std::io::Write;
use std::path::Path;

use crate::store::Location;

const FILE: &str = "secret.key";

fn fresh() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the secret kept beside the state, creating it the first time.
///
/// # Errors
/// The file or Redis cannot be read or written.
pub async fn load_or_create_secret(location: &Location) -> anyhow::Result<Vec<u8>> {
    let candidate = fresh()?;
    let hex = match location {
        Location::Journal(dir) => from_file(&dir.join(FILE), &candidate)?,
        Location::Redis(url) => {
            let client = redis::Client::open(url.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let key = format!("{}:secret", crate::store::redis_store::DEFAULT_PREFIX);
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
