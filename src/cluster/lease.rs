//! A hall's lease and fence in Redis: which node owns the hall now, and
//! the epoch that grows with every change of owner.
//!
//! ```text
//! PREFIX:{HALL}:lease  string "INSTANCE EPOCH", expires (PX) unless renewed
//! PREFIX:{HALL}:fence  integer, the hall's current epoch; never expires
//! ```
//!
//! The lease says who should serve; the fence says whose writes count. A
//! node takes a free lease by incrementing the fence, and the append script
//! refuses any write that does not carry the fence's current value
//! (`store::redis_store`), so a node that was paused past its lease and
//! replaced cannot write, whatever it still believes. Expiry is Redis's
//! own clock (`PX`): no node's clock decides who owns a hall.

use redis::Value;

use crate::engine::HallId;
use crate::store::StoreError;
use crate::store::redis_store::{Conn, RedisStore};

/// Takes a free lease (a new epoch), or renews one this instance holds.
/// KEYS: lease, fence. ARGV: instance, ttl ms.
/// Returns {1, epoch} when held, {0, "HOLDER EPOCH"} when someone else has it.
const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder, epoch = string.match(cur, '^(%S+) (%d+)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, epoch}
  end
  return {0, cur}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. epoch, 'PX', ARGV[2])
return {1, tostring(epoch)}
";

/// Renews a lease held under this epoch. KEYS: lease. ARGV: instance,
/// epoch, ttl ms. Returns 1 if renewed, 0 if it is not held so any more.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
";

/// Gives a lease up at once (a node shutting down or handing over).
/// KEYS: lease. ARGV: instance, epoch. Returns 1 if it was held.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Who holds a hall's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holding process (see `Member::instance`).
    pub instance: String,
    pub epoch: u64,
}

impl Holder {
    fn parse(s: &str) -> Option<Holder> {
        let (instance, epoch) = s.split_once(' ')?;
        Some(Holder {
            instance: instance.to_owned(),
            epoch: epoch.parse().ok()?,
        })
    }
}

/// The answer to an attempt to take a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// This instance holds the hall under this epoch.
    Held(u64),
    /// Another holds it.
    Other(Holder),
}

/// Leases on one store's halls, for one process.
#[derive(Clone, Debug)]
pub struct Leases {
    store: RedisStore,
    instance: String,
    ttl_ms: u64,
}

impl Leases {
    pub fn new(store: RedisStore, instance: String, ttl: std::time::Duration) -> Leases {
        Leases {
            store,
            instance,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn conn(&self) -> Conn {
        self.store.connection()
    }

    /// Takes the hall's lease if it is free (a new epoch) or renews it if
    /// this instance holds it.
    ///
    /// # Errors
    /// Redis cannot be reached or answered nonsense.
    pub async fn acquire(&self, hall: HallId) -> Result<Taken, StoreError> {
        let lease = self.store.key(hall, "lease");
        let reply: Vec<Value> = redis::cmd("EVAL")
            .arg(ACQUIRE)
            .arg(2)
            .arg(&lease)
            .arg(self.store.key(hall, "fence"))
            .arg(&self.instance)
            .arg(self.ttl_ms)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis lease {lease}: {e}")))?;
        let text = |v: &Value| match v {
            Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => Some(s.clone()),
            Value::Int(n) => Some(n.to_string()),
            _ => None,
        };
        let (flag, rest) = match reply.as_slice() {
            [Value::Int(flag), rest] => (*flag, text(rest)),
            _ => (-1, None),
        };
        match (flag, rest) {
            (1, Some(epoch)) => epoch
                .parse()
                .map(Taken::Held)
                .map_err(|_| StoreError::corrupt(&lease, format!("holds epoch {epoch:?}"))),
            (0, Some(holder)) => Holder::parse(&holder)
                .map(Taken::Other)
                .ok_or_else(|| StoreError::corrupt(&lease, format!("holds {holder:?}, not INSTANCE EPOCH"))),
            _ => Err(StoreError::corrupt(
                &lease,
                format!("the lease script answered {reply:?}"),
            )),
        }
    }

    /// Renews a lease held under `epoch`: `false` when it is not held any
    /// more (it expired, and perhaps another took it).
    ///
    /// # Errors
    /// Redis cannot be reached.
    pub async fn renew(&self, hall: HallId, epoch: u64) -> Result<bool, StoreError> {
        let lease = self.store.key(hall, "lease");
        let renewed: i64 = redis::cmd("EVAL")
            .arg(RENEW)
            .arg(1)
            .arg(&lease)
            .arg(&self.instance)
            .arg(epoch)
            .arg(self.ttl_ms)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis renew {lease}: {e}")))?;
        Ok(renewed == 1)
    }

    /// Gives the lease up now, if still held under `epoch`.
    ///
    /// # Errors
    /// Redis cannot be reached.
    pub async fn release(&self, hall: HallId, epoch: u64) -> Result<bool, StoreError> {
        let lease = self.store.key(hall, "lease");
        let released: i64 = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(&lease)
            .arg(&self.instance)
            .arg(epoch)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis release {lease}: {e}")))?;
        Ok(released == 1)
    }

    /// Who holds the hall's lease now, if anyone.
    ///
    /// # Errors
    /// Redis cannot be reached, or the key holds something else.
    pub async fn holder(&self, hall: HallId) -> Result<Option<Holder>, StoreError> {
        let lease = self.store.key(hall, "lease");
        let got: Option<String> = redis::cmd("GET")
            .arg(&lease)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| StoreError::Unavailable(format!("Redis read {lease}: {e}")))?;
        match got {
            None => Ok(None),
            Some(s) => Holder::parse(&s)
                .map(Some)
                .ok_or_else(|| StoreError::corrupt(&lease, format!("holds {s:?}, not INSTANCE EPOCH"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::{Code, Event, EventKind, Millis};
    use crate::store::redis_store::DEFAULT_PREFIX;
    use crate::store::test_redis::RedisServer;

    fn hall() -> HallId {
        Code::new("qiaocheng").unwrap()
    }

    fn ev(seq: u64) -> Event {
        Event {
            seq,
            at: Millis(1_795_480_200_000 + seq as i64),
            kind: EventKind::WindowOpened {
                window: 1,
                staff: None,
                paused: false,
            },
        }
    }

    async fn node(server: &RedisServer, instance: &str, ttl_ms: u64) -> (RedisStore, Leases) {
        let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).await.unwrap();
        let leases = Leases::new(store.clone(), instance.to_owned(), Duration::from_millis(ttl_ms));
        (store, leases)
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_each_new_holder_a_higher_epoch() {
        let server = RedisServer::start(false);
        let (_, a) = node(&server, "a~1", 300).await;
        let (_, b) = node(&server, "b~1", 300).await;
        assert_eq!(a.acquire(hall()).await.unwrap(), Taken::Held(1));
        // Taking it again is renewing it, under the same epoch.
        assert_eq!(a.acquire(hall()).await.unwrap(), Taken::Held(1));
        let other = Holder {
            instance: "a~1".into(),
            epoch: 1,
        };
        assert_eq!(b.acquire(hall()).await.unwrap(), Taken::Other(other.clone()));
        assert_eq!(b.holder(hall()).await.unwrap(), Some(other));
        assert!(!b.renew(hall(), 1).await.unwrap());
        assert!(a.renew(hall(), 1).await.unwrap());
        // Released, it is free at once, and the next holder's epoch is higher.
        assert!(!b.release(hall(), 1).await.unwrap());
        assert!(a.release(hall(), 1).await.unwrap());
        assert_eq!(b.acquire(hall()).await.unwrap(), Taken::Held(2));
        // Left to expire, it goes to whoever asks next.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!b.renew(hall(), 2).await.unwrap());
        assert_eq!(a.acquire(hall()).await.unwrap(), Taken::Held(3));
    }

    #[tokio::test]
    async fn the_fence_refuses_a_replaced_owner_in_the_append_itself() {
        let server = RedisServer::start(false);
        let (old_store, old) = node(&server, "old~1", 200).await;
        let (new_store, new) = node(&server, "new~1", 200).await;
        for store in [&old_store, &new_store] {
            store.fences().require();
        }
        // Without an epoch, no append is sent at all.
        assert!(matches!(
            old_store.append(&[(hall(), &[ev(1)])]).await,
            Err(StoreError::Fenced { held: None, .. })
        ));
        let Taken::Held(epoch) = old.acquire(hall()).await.unwrap() else {
            panic!("free lease not taken")
        };
        old_store.fences().set(hall(), epoch);
        old_store.append(&[(hall(), &[ev(1), ev(2)])]).await.unwrap();
        // The old owner stops renewing (paused); its lease ends and another
        // node takes the hall.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Taken::Held(next) = new.acquire(hall()).await.unwrap() else {
            panic!("expired lease not taken")
        };
        assert_eq!(next, epoch + 1);
        new_store.fences().set(hall(), next);
        // The old owner wakes and writes what would continue the log: the
        // fence refuses it, and nothing is written.
        let late = old_store.append(&[(hall(), &[ev(3)])]).await;
        assert!(
            matches!(late, Err(StoreError::Fenced { held: Some(h), current: Some(c), .. }) if h == epoch && c == next),
            "{late:?}"
        );
        assert_eq!(new_store.load(hall()).await.unwrap().last_seq(), 2);
        new_store.append(&[(hall(), &[ev(3)])]).await.unwrap();
        assert_eq!(new_store.load(hall()).await.unwrap().last_seq(), 3);
    }
}
