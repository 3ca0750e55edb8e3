//! The loop that makes one process a node: every beat it says it is
//! alive, works out which halls it should own, takes, renews, hands over
//! or lets go of their leases, and keeps its copy of every other hall in
//! step with Redis for the screens it serves.
//!
//! Taking a hall: the lease (a new epoch), the epoch into the store's
//! fences, the hall read back from Redis, and only then operations.
//! Letting one go: operations refused (`hall_moving`), the writes under
//! way finished, then the lease released. A hall whose lease could not be
//! renewed in time is let go without asking Redis: by then another node
//! may hold it, and the fence refuses anything this one still sends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::lease::{Leases, Taken};
use super::members::{Member, Members};
use super::{BEAT, LEASE, assign};
use crate::engine::HallId;
use crate::shards::Halls;
use crate::store::redis_store::RedisStore;
use crate::store::{Store, StoreError, Stream};

/// Where a hall's operations are served, as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// By this node.
    Here,
    /// By the node at this address.
    At(String),
    /// By nobody just now: it is changing nodes.
    Moving,
}

/// Each hall's [`Place`], read by the HTTP layer to forward requests.
#[derive(Clone, Debug, Default)]
pub struct Placement(Arc<DashMap<HallId, Place>>);

impl Placement {
    pub fn get(&self, hall: HallId) -> Option<Place> {
        self.0.get(&hall).map(|p| p.clone())
    }

    fn set(&self, hall: HallId, place: Place) {
        self.0.insert(hall, place);
    }
}

/// How this node is known to the others.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// `--node-id`: stable across restarts.
    pub node: String,
    /// `--advertise`: where the other nodes reach this one.
    pub url: String,
    /// Halls pinned to a node by the operator.
    pub pins: HashMap<HallId, String>,
}

/// A lease this node holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: u64,
    /// When the last renewal that succeeded was sent: the lease lasts
    /// [`LEASE`] from then at least, by any clock.
    renewed: Instant,
}

/// One node's share of the cluster's work.
pub struct Keeper {
    me: Member,
    pins: HashMap<HallId, String>,
    leases: Leases,
    members: Members,
    redis: RedisStore,
    store: Store,
    /// Read for the halls other nodes own.
    stream: Stream,
    halls: Halls,
    placement: Placement,
    held: HashMap<HallId, Held>,
    /// The live nodes at the last beat, by instance.
    live: HashMap<String, Member>,
    /// Halls this node should own but another still holds, at the last beat.
    waiting: usize,
}

impl Keeper {
    /// A node on `redis`, not yet owning anything: every hall refuses
    /// operations until [`Keeper::round`] takes it.
    ///
    /// # Errors
    /// No randomness for the instance name.
    pub fn new(
        settings: NodeSettings,
        redis: RedisStore,
        (store, stream): (Store, Stream),
        halls: Halls,
    ) -> Result<Keeper, StoreError> {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        let suffix: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let me = Member {
            instance: format!("{}~{suffix}", settings.node),
            node: settings.node,
            url: settings.url,
        };
        redis.fences().require();
        let placement = Placement::default();
        for hall in halls.ids().collect::<Vec<_>>() {
            halls.set_owned(hall, false);
            placement.set(hall, Place::Moving);
        }
        Ok(Keeper {
            leases: Leases::new(redis.clone(), me.instance.clone(), LEASE),
            members: Members::new(redis.clone()),
            me,
            pins: settings.pins,
            redis,
            store,
            stream,
            halls,
            placement,
            held: HashMap::new(),
            live: HashMap::new(),
            waiting: 0,
        })
    }

    pub fn placement(&self) -> Placement {
        self.placement.clone()
    }

    pub fn me(&self) -> &Member {
        &self.me
    }

    /// The halls this node owns now.
    pub fn owned(&self) -> Vec<HallId> {
        let mut out: Vec<HallId> = self.held.keys().copied().collect();
        out.sort();
        out
    }

    /// One beat: membership, then each hall's lease, then other halls'
    /// events.
    pub async fn round(&mut self) {
        let alive_ms = u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        match self.members.beat(&self.me, alive_ms, false).await {
            Ok(live) => self.live = live.into_iter().map(|m| (m.instance.clone(), m)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot beat: leases not renewed in time will be let go");
                self.let_go_expired();
                return;
            }
        }
        let mut nodes: Vec<String> = self.live.values().map(|m| m.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        self.waiting = 0;
        for hall in self.halls.ids().collect::<Vec<_>>() {
            let mine = assign::desired(hall, &nodes, &self.pins) == Some(self.me.node.as_str());
            if let Err(e) = self.keep(hall, mine).await {
                tracing::warn!(%hall, error = %e, "hall lease not kept this beat");
            }
            if mine && !self.held.contains_key(&hall) {
                self.waiting += 1;
            }
        }
        self.let_go_expired();
        self.follow_others().await;
    }

    async fn keep(&mut self, hall: HallId, mine: bool) -> Result<(), StoreError> {
        match (self.held.get(&hall).copied(), mine) {
            (Some(held), true) => {
                let sent = Instant::now();
                if self.leases.renew(hall, held.epoch).await? {
                    self.held.insert(hall, Held { renewed: sent, ..held });
                } else {
                    tracing::warn!(%hall, epoch = held.epoch, "the hall's lease was lost: letting it go");
                    self.let_go(hall);
                }
            }
            (Some(held), false) => self.hand_over(hall, held.epoch).await?,
            (None, true) => {
                let sent = Instant::now();
                match self.leases.acquire(hall).await? {
                    Taken::Held(epoch) => self.take(hall, epoch, sent).await?,
                    Taken::Other(holder) => self.placement.set(hall, self.place_of(&holder.instance)),
                }
            }
            (None, false) => {
                let place = match self.leases.holder(hall).await? {
                    Some(holder) => self.place_of(&holder.instance),
                    None => Place::Moving,
                };
                self.placement.set(hall, place);
            }
        }
        Ok(())
    }

    fn place_of(&self, instance: &str) -> Place {
        match self.live.get(instance) {
            Some(m) if m.instance == self.me.instance => Place::Here,
            Some(m) => Place::At(m.url.clone()),
            // Its holder stopped beating: the lease ends soon.
            None => Place::Moving,
        }
    }

    /// Starts serving a hall whose lease was just taken.
    async fn take(&mut self, hall: HallId, epoch: u64, sent: Instant) -> Result<(), StoreError> {
        self.redis.fences().set(hall, epoch);
        match self.store.reload(hall).await {
            Ok(rebuilt) => {
                tracing::info!(%hall, epoch, seq = rebuilt.seq(), "hall taken: serving it");
                // A new owner, a new incarnation of the log.
                self.store.begin_epoch(hall).await?;
                self.halls.take_over(rebuilt);
                self.held.insert(hall, Held { epoch, renewed: sent });
                self.placement.set(hall, Place::Here);
                Ok(())
            }
            Err(e) => {
                // Not served half-read: give the lease back for the next beat.
                self.redis.fences().clear(hall);
                let _ = self.leases.release(hall, epoch).await;
                Err(e)
            }
        }
    }

    /// Stops serving a hall at once, without Redis.
    fn let_go(&mut self, hall: HallId) {
        self.halls.set_owned(hall, false);
        self.redis.fences().clear(hall);
        self.held.remove(&hall);
        self.placement.set(hall, Place::Moving);
    }

    /// Lets go every hall whose lease may have ended: its last renewal was
    /// sent longer ago than a lease lasts, less a beat for safety.
    fn let_go_expired(&mut self) {
        let limit = LEASE.saturating_sub(BEAT);
        let expired: Vec<HallId> = self
            .held
            .iter()
            .filter(|(_, h)| h.renewed.elapsed() >= limit)
            .map(|(hall, _)| *hall)
            .collect();
        for hall in expired {
            tracing::warn!(%hall, "the hall's lease was not renewed in time: letting it go");
            self.let_go(hall);
        }
    }

    /// Gives a hall to the node that should own it: operations stop, the
    /// writes under way finish, the lease is released.
    async fn hand_over(&mut self, hall: HallId, epoch: u64) -> Result<(), StoreError> {
        self.halls.set_owned(hall, false);
        self.placement.set(hall, Place::Moving);
        self.store.flush().await;
        self.redis.fences().clear(hall);
        self.held.remove(&hall);
        self.leases.release(hall, epoch).await?;
        tracing::info!(%hall, epoch, "hall handed over");
        Ok(())
    }

    /// Brings this node's copy of every hall it does not own up to Redis
    /// (a safety net under the published notices, which can be missed).
    async fn follow_others(&self) {
        for hall in self
            .halls
            .ids()
            .filter(|h| !self.held.contains_key(h))
            .collect::<Vec<_>>()
        {
            follow(&self.store, &self.stream, &self.halls, hall).await;
        }
    }

    /// Beats until this node holds every hall it should (a node restarted
    /// after a crash waits for its old leases to end), for at most a lease
    /// and a beat: then it serves what it has.
    pub async fn settle(&mut self) {
        let deadline = Instant::now() + LEASE + BEAT;
        loop {
            self.round().await;
            if self.waiting == 0 || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(BEAT / 5).await;
        }
    }

    /// Hands every hall over and leaves the membership (graceful shutdown).
    pub async fn leave(&mut self) {
        for (hall, held) in self.held.clone() {
            if let Err(e) = self.hand_over(hall, held.epoch).await {
                tracing::warn!(%hall, error = %e, "hall not handed over: its lease ends by itself");
            }
        }
        let alive_ms = u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        if let Err(e) = self.members.beat(&self.me, alive_ms, true).await {
            tracing::warn!(error = %e, "cannot leave the membership: it ends by itself");
        }
    }

    /// Beats until `stop` is set, then leaves.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(BEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.round().await,
                _ = stop.changed() => break,
            }
        }
        self.leave().await;
    }
}

/// Brings a hall another node owns up to Redis: the stream (screens) and
/// the hall requests read here (a device's session, a ticket's page).
pub async fn follow(store: &Store, stream: &Stream, halls: &Halls, hall: HallId) {
    match store.catch_up(hall).await {
        Ok(seq) => {
            let behind = halls.lock(hall).is_ok_and(|h| h.seq() != seq);
            if behind && let Some(latest) = stream.hall(hall) {
                halls.follow(latest);
            }
        }
        Err(e) => tracing::warn!(%hall, error = %e, "cannot read the hall's new events"),
    }
}

/// Reads the events other nodes append as soon as they are published
/// (`PREFIX:tail`, "HALL LAST"), for the halls this node does not own.
/// Notices can be lost (a reconnect); the keeper's beat catches up then.
pub async fn follow_published(redis: RedisStore, store: Store, stream: Stream, halls: Halls) {
    use crate::store::redis_store::Target;
    use futures_util::StreamExt;
    let urls = match redis.target() {
        Target::Single(url) => vec![url.clone()],
        Target::Cluster(nodes) => nodes.clone(),
    };
    let channel = redis.tail_channel();
    let mut turn = 0usize;
    loop {
        let url = &urls[turn % urls.len()];
        turn += 1;
        let subscribed = async {
            let mut pubsub = redis::Client::open(url.as_str())?.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        let mut pubsub = match subscribed {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "cannot subscribe to the halls' notices yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let payload = String::from_utf8_lossy(msg.get_payload_bytes()).into_owned();
            let Some((hall, last)) = payload.split_once(' ') else {
                continue;
            };
            let (Ok(hall), Ok(last)) = (crate::engine::Code::new(hall), last.parse::<u64>()) else {
                continue;
            };
            if halls.is_owned(hall) || halls.config(hall).is_err() {
                continue;
            }
            if stream.durable_seq(hall).is_some_and(|seq| seq >= last) {
                continue;
            }
            follow(&store, &stream, &halls, hall).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
