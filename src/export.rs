//! `--export-config`: every hall's configuration as the store runs it, in
//! one file that `--config` (with `--import-config`) reads back. Reads the
//! store without taking it over, so it runs beside a server.

use crate::cli::{Args, StoreUrl};
use crate::config::ServerConfig;
use crate::store::redis_store::{DEFAULT_PREFIX, RedisStore};

/// The file's text.
///
/// # Errors
/// The store cannot be read, or what it holds does not rebuild a hall.
pub async fn export(args: &Args, config: &ServerConfig) -> anyhow::Result<String> {
    let mut out = String::from(
        "# Every hall's configuration as the store runs it (hallcall --export-config).\n\
         # Start a server with --config on this file and --import-config to record it.\n",
    );
    let redis = match &args.store {
        StoreUrl::Redis(url) => Some(RedisStore::connect(url, DEFAULT_PREFIX).await?),
        StoreUrl::File(_) => None,
    };
    for h in &config.halls {
        let id = h.spec.id;
        let recovered = match (&args.store, &redis) {
            (_, Some(r)) => r.load(id).await?,
            (StoreUrl::File(dir), None) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || crate::store::journal::load_from(&dir, id)).await??
            }
            (StoreUrl::Redis(_), None) => unreachable!("connected above"),
        };
        let hall = crate::store::rebuild(h.spec.clone(), &recovered)?;
        let cs = hall.config();
        out.push('\n');
        match cs.history.last() {
            Some(note) if cs.version > 0 => {
                out.push_str(&format!(
                    "# hall {id}: configuration version {}, by {}{}\n",
                    cs.version,
                    note.by,
                    if note.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", note.reason.replace('\n', " "))
                    }
                ));
                out.push_str(&cs.text);
            }
            _ => {
                out.push_str(&format!(
                    "# hall {id}: no version in the store yet; the --config file's\n"
                ));
                out.push_str(&h.text);
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    let src = std::fs::read_to_string(&args.config)?;
    if let Some(directory) = crate::config::directory_text(&src) {
        out.push_str("\n# The server's directory, from the --config file (not versioned).\n");
        out.push_str(&directory);
    }
    Ok(out)
}
