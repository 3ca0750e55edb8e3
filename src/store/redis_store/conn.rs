//! One connection type for a single Redis and for a Redis Cluster, so the
//! store's commands are written once.
//!
//! A single Redis is `redis://host:port/db` (or `rediss://`); a cluster is
//! `redis+cluster://host:port,host:port,…` naming any of its nodes, from
//! which the client learns the rest. Every key of one hall carries the
//! hall's hash tag (`PREFIX:{HALL}:…`), so a hall's script, pipeline or
//! transaction runs in one slot; commands touching several halls are sent
//! a hall at a time.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::store::StoreError;

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a reply may take.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Where the store's Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server (which may have replicas behind a failover proxy).
    Single(String),
    /// A Redis Cluster: the `redis://host:port` of the nodes given.
    Cluster(Vec<String>),
}

impl Target {
    /// Reads a store URL.
    ///
    /// # Errors
    /// A cluster URL without a node, or with an empty one.
    pub fn parse(url: &str) -> Result<Target, String> {
        let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
            return Ok(Target::Single(url.to_owned()));
        };
        // Credentials, if any, are written once before the first node and
        // apply to every node, as the cluster client requires.
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (format!("{auth}@"), hosts),
            None => (String::new(), rest),
        };
        let hosts = hosts.trim_end_matches('/');
        let mut nodes = Vec::new();
        for host in hosts.split(',') {
            let host = host.trim();
            if host.is_empty() || host.contains('/') {
                return Err(format!(
                    "{} names an empty or malformed node {host:?}: write redis+cluster://host:port,host:port",
                    redacted(url)
                ));
            }
            nodes.push(format!("redis://{auth}{host}"));
        }
        Ok(Target::Cluster(nodes))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }
}

/// A connection to either kind: multiplexed, shared by clones, and
/// re-established by itself after Redis comes back.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conn::Single(_) => f.write_str("Conn::Single"),
            Conn::Cluster(_) => f.write_str("Conn::Cluster"),
        }
    }
}

impl Conn {
    /// Connects to `target`, failing fast (1 s to connect, 2 s for a reply)
    /// so that calls fail quickly while Redis is down.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid or Redis cannot
    /// be reached.
    pub async fn connect(target: &Target) -> Result<Conn, StoreError> {
        match target {
            Target::Single(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| StoreError::Unavailable(format!("invalid Redis URL {}: {e}", redacted(url))))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(100))
                    .set_max_delay(Duration::from_millis(500));
                let conn = ConnectionManager::new_with_config(client, config).await.map_err(|e| {
                    StoreError::Unavailable(format!("cannot connect to Redis at {}: {e}", redacted(url)))
                })?;
                Ok(Conn::Single(conn))
            }
            Target::Cluster(nodes) => {
                let shown = nodes.iter().map(|n| redacted(n)).collect::<Vec<_>>().join(", ");
                let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2)
                    .min_retry_wait(50)
                    .max_retry_wait(500)
                    .build()
                    .map_err(|e| StoreError::Unavailable(format!("invalid Redis Cluster nodes {shown}: {e}")))?;
                let conn = client.get_async_connection().await.map_err(|e| {
                    StoreError::Unavailable(format!("cannot connect to the Redis Cluster at {shown}: {e}"))
                })?;
                Ok(Conn::Cluster(conn))
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// `redis://user:secret@host/` without the credentials, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_urls_pass_through() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379/2"),
            Ok(Target::Single("redis://127.0.0.1:6379/2".into()))
        );
    }

    #[test]
    fn cluster_urls_name_each_node() {
        assert_eq!(
            Target::parse("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/"),
            Ok(Target::Cluster(vec![
                "redis://10.0.0.1:7000".into(),
                "redis://10.0.0.2:7001".into()
            ]))
        );
        assert_eq!(
            Target::parse("redis+cluster://:pw@a:1,b:2"),
            Ok(Target::Cluster(vec![
                "redis://:pw@a:1".into(),
                "redis://:pw@b:2".into()
            ]))
        );
    }

    #[test]
    fn empty_cluster_nodes_are_refused_without_the_password() {
        let e = Target::parse("redis+cluster://:hunter2@a:1,,b:2").unwrap_err();
        assert!(e.contains("empty or malformed"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(Target::parse("redis+cluster://a:1/0").is_err());
    }
}
