//! The safety rails: loopback only, a cap on connections, and a check that
//! the open-file limit leaves room for them.

use std::net::IpAddr;

use anyhow::{Context, bail};

/// No run holds more connections than this: the process open-file limit
/// here is 20,000, and the server children need their own margin under it.
pub const MAX_CONNECTIONS: usize = 19_000;

/// Sockets, files and pipes besides the connections a run opens.
const FD_MARGIN: u64 = 256;

/// Refuses any address outside 127.0.0.0/8 and ::1: this tool floods what
/// it points at, and must never point anywhere but this machine.
pub fn require_loopback(ip: IpAddr) -> anyhow::Result<()> {
    let ok = match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6.is_loopback(),
    };
    if !ok {
        bail!("{ip} is not a loopback address: hallcall-load only runs against 127.0.0.0/8 or ::1");
    }
    Ok(())
}

/// Refuses a plan above [`MAX_CONNECTIONS`].
pub fn require_connections(what: &str, n: usize) -> anyhow::Result<()> {
    if n > MAX_CONNECTIONS {
        bail!("{what}: {n} connections is above the cap of {MAX_CONNECTIONS} per run");
    }
    Ok(())
}

/// The soft open-file limit, from `/proc/self/limits` (no libc needed).
fn soft_nofile() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").context("cannot read /proc/self/limits")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("/proc/self/limits has no \"Max open files\" line")?;
    let soft = line["Max open files".len()..]
        .split_whitespace()
        .next()
        .context("no soft limit on the \"Max open files\" line")?;
    if soft == "unlimited" {
        return Ok(u64::MAX);
    }
    soft.parse()
        .with_context(|| format!("cannot read the open-file limit {soft:?}"))
}

/// Fails clearly if `connections` sockets (plus a margin) would not fit
/// under the soft open-file limit. The servers are children of this
/// process and inherit the same limit.
pub fn require_open_files(connections: usize) -> anyhow::Result<()> {
    let soft = soft_nofile()?;
    let need = connections as u64 + FD_MARGIN;
    if soft < need {
        bail!(
            "the open-file limit is {soft}, this run needs about {need}: raise it first (ulimit -n 20000), \
             or run with --quick"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_passes() {
        for ok in ["127.0.0.1", "127.9.8.7", "::1"] {
            assert!(require_loopback(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.1", "0.0.0.0", "::", "192.168.1.1", "::ffff:10.0.0.1"] {
            assert!(require_loopback(bad.parse().unwrap()).is_err(), "{bad}");
        }
    }
}
