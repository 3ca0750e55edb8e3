//! The data directory as one process's own: an exclusive lock (a second
//! server on the same directory would reuse ticket numbers and lose
//! acknowledged operations), and no access for other users (0700
//! directories, 0600 files: they hold who came and how they rated).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::io;
use crate::store::StoreError;

/// The lock file in the data directory; it names its holder.
pub(super) const LOCK: &str = "LOCK";

/// Creates `dir` (and parents) as 0700, and makes an existing one 0700.
pub(super) fn private_dir(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))
}

/// Options for a new file only its owner may read.
pub(super) fn private_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

/// Takes the directory's lock for as long as the returned file is open,
/// and writes who holds it there.
///
/// # Errors
/// Another process holds it (the error names it), or the file cannot be
/// opened.
pub(super) fn lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK);
    let mut f = private_file()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let me = format!("pid {} on {}", std::process::id(), host.trim());
    // A store this process closed a moment ago (a restart in tests) lets
    // go once its writer thread ends: wait for that, never for another.
    let mut patience = 250;
    while let Err(e) = rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        let mut holder = String::new();
        let _ = f.rewind().and_then(|()| f.read_to_string(&mut holder));
        let holder = holder.trim();
        if holder == me && patience > 0 {
            patience -= 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        return Err(StoreError::Unavailable(format!(
            "{} is in use by another hallcall ({}): stop it first, or give this one its own store ({e})",
            dir.display(),
            if holder.is_empty() { "unknown process" } else { holder }
        )));
    }
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(me.as_bytes()))
        .map_err(|e| io(&path, e))?;
    Ok(f)
}
