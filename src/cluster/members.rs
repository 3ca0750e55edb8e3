//! The nodes alive now, as Redis sees them: each node beats every
//! [`BEAT`](super::BEAT) and is alive while its last beat is younger than
//! the lease. Times are Redis's own (`TIME` inside the script), so nodes
//! whose clocks disagree still agree on who is alive.
//!
//! ```text
//! PREFIX:{nodes}:seen  sorted set, instance -> last beat (ms, Redis time)
//! PREFIX:{nodes}:info  hash, instance -> {"node":…,"url":…}
//! ```

use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::store::redis_store::RedisStore;

/// Nodes not heard of for this long are forgotten.
const FORGET_MS: u64 = 60_000;

/// Records this node's beat (or its leaving), forgets long-gone nodes,
/// and answers the live ones. KEYS: seen, info. ARGV: instance, info JSON,
/// alive ms, "1" when leaving. Returns {instance, info, …}.
const BEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[5]))
for _, m in ipairs(gone) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
end
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[3]), '+inf')) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[2], m) or ''
end
return out
";

/// A running hallcall process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// This start of the node: `NODE~RANDOM`. Leases name it, so a node
    /// that restarts is a new holder and waits for its old leases to end.
    #[serde(skip)]
    pub instance: String,
    /// The node's name (`--node-id`), stable across restarts: what
    /// halls are spread over and pinned to.
    pub node: String,
    /// Where other nodes reach it (`--advertise`).
    pub url: String,
}

/// The membership registry on one store.
#[derive(Clone, Debug)]
pub struct Members {
    store: RedisStore,
    seen: String,
    info: String,
}

impl Members {
    pub fn new(store: RedisStore) -> Members {
        let seen = format!("{}:{{nodes}}:seen", store.prefix());
        let info = format!("{}:{{nodes}}:info", store.prefix());
        Members { store, seen, info }
    }

    /// Beats for `me` (or says it leaves) and answers who is alive,
    /// ordered by node name.
    ///
    /// # Errors
    /// Redis cannot be reached, or answered nonsense.
    pub async fn beat(&self, me: &Member, alive_ms: u64, leaving: bool) -> Result<Vec<Member>, StoreError> {
        let info = serde_json::to_string(me).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let reply: Vec<String> = redis::cmd("EVAL")
            .arg(BEAT)
            .arg(2)
            .arg(&self.seen)
            .arg(&self.info)
            .arg(&me.instance)
            .arg(info)
            .arg(alive_ms)
            .arg(if leaving { "1" } else { "0" })
            .arg(FORGET_MS)
            .query_async(&mut self.store.connection())
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis node beat {}: {e}", self.seen)))?;
        let mut live = Vec::with_capacity(reply.len() / 2);
        for pair in reply.chunks(2) {
            let [instance, info] = pair else { continue };
            let Ok(mut member) = serde_json::from_str::<Member>(info) else {
                tracing::warn!(%instance, "a node's entry in {} does not read: ignored", self.info);
                continue;
            };
            member.instance.clone_from(instance);
            live.push(member);
        }
        live.sort_by(|a, b| (&a.node, &a.instance).cmp(&(&b.node, &b.instance)));
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redis_store::DEFAULT_PREFIX;
    use crate::store::test_redis::RedisServer;

    fn member(node: &str) -> Member {
        Member {
            instance: format!("{node}~1"),
            node: node.into(),
            url: format!("http://{node}:8080"),
        }
    }

    #[tokio::test]
    async fn nodes_are_alive_while_they_beat_and_gone_when_they_leave_or_stop() {
        let server = RedisServer::start(false);
        let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).await.unwrap();
        let members = Members::new(store);
        let (a, b) = (member("a"), member("b"));
        assert_eq!(members.beat(&b, 300, false).await.unwrap(), vec![b.clone()]);
        assert_eq!(members.beat(&a, 300, false).await.unwrap(), vec![a.clone(), b.clone()]);
        // b leaves on purpose: gone at once.
        members.beat(&b, 300, true).await.unwrap();
        assert_eq!(members.beat(&a, 300, false).await.unwrap(), vec![a.clone()]);
        // b beats again, then stops beating: gone once its beat is old.
        members.beat(&b, 300, false).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(members.beat(&a, 300, false).await.unwrap(), vec![a]);
    }
}
