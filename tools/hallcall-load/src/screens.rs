//! A fleet of screens: thousands of lean WebSocket clients, each recording
//! when a delta naming a call reached it. Latencies are worked out after
//! the run from these arrival instants and the instants the calls were
//! sent, so a screen does no more per frame than find the call tickets.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::ws_client::{Display, Incoming, call_tickets, ticket_number};

/// Upgrades in flight at once: more only overflows the listen backlog.
const CONNECTING_AT_ONCE: usize = 200;
/// How long the whole fleet may take to connect.
const CONNECT_CAP: Duration = Duration::from_secs(120);

/// A call's key: the hall's index and the ticket's number (< 2^20 with
/// six digits).
pub fn call_key(hall: u32, number: u32) -> u32 {
    (hall << 20) | number
}

pub fn key_hall(key: u32) -> u32 {
    key >> 20
}

/// What one screen saw.
#[derive(Default)]
pub struct Outcome {
    pub hall: u32,
    pub arrivals: Vec<(u32, Instant)>,
    pub frames: u64,
    pub bytes: u64,
    /// Deltas that named at least one call, and their bytes.
    pub call_frames: u64,
    pub call_bytes: u64,
    /// Snapshots after the first: the server resynchronized this screen.
    pub resnapshots: u64,
    /// The server ended the connection before the run did.
    pub closed: bool,
    pub error: Option<String>,
}

pub struct Fleet {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<Outcome>>,
    /// Call deliveries so far, over every screen.
    pub delivered: Arc<AtomicU64>,
    pub connected: usize,
    pub failed: usize,
    pub first_error: Option<String>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl Fleet {
    /// Connects one screen per `(path, hall index)` and returns once each
    /// has received its first message (a snapshot, or the baseline's
    /// hello): from then on it is subscribed and misses nothing.
    pub async fn connect(addr: SocketAddr, screens: Vec<(String, u32)>) -> anyhow::Result<Fleet> {
        let n = screens.len();
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
        let delivered = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(n);
        for (path, hall) in screens {
            let s = Screen {
                hall,
                delivered: delivered.clone(),
            };
            handles.push(tokio::spawn(s.run(
                addr,
                path,
                gate.clone(),
                ready_tx.clone(),
                stop_rx.clone(),
            )));
        }
        drop(ready_tx);
        let started = Instant::now();
        let (mut connected, mut failed, mut first_error) = (0, 0, None);
        let mut last_note = Instant::now();
        while connected + failed < n {
            let left = CONNECT_CAP.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, ready_rx.recv()).await {
                Ok(Some(Ok(()))) => connected += 1,
                Ok(Some(Err(e))) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
                Ok(None) => break,
                Err(_) => {
                    stop.send_replace(true);
                    bail!("only {connected} of {n} screens connected within {CONNECT_CAP:?}");
                }
            }
            if last_note.elapsed() > Duration::from_secs(5) {
                eprintln!("    … {connected}/{n} screens connected");
                last_note = Instant::now();
            }
        }
        Ok(Fleet {
            stop,
            handles,
            delivered,
            connected,
            failed,
            first_error,
        })
    }

    /// Waits until `expected` call deliveries have arrived, or `limit`.
    pub async fn settle(&self, expected: u64, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.delivered.load(Ordering::Relaxed) < expected {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Stops every screen and gathers what each saw.
    pub async fn finish(mut self) -> Vec<Outcome> {
        self.stop.send_replace(true);
        let mut out = Vec::with_capacity(self.handles.len());
        for h in self.handles.drain(..) {
            out.push(h.await.unwrap_or_else(|e| Outcome {
                error: Some(format!("screen task failed: {e}")),
                ..Outcome::default()
            }));
        }
        out
    }
}

struct Screen {
    hall: u32,
    delivered: Arc<AtomicU64>,
}

impl Screen {
    async fn run(
        self,
        addr: SocketAddr,
        path: String,
        gate: Arc<Semaphore>,
        ready: mpsc::UnboundedSender<Result<(), String>>,
        mut stop: watch::Receiver<bool>,
    ) -> Outcome {
        let mut out = Outcome {
            hall: self.hall,
            ..Outcome::default()
        };
        let mut d = match self.open(addr, &path, &gate).await {
            Ok(d) => d,
            Err(e) => {
                let e = format!("{e:#}");
                let _ = ready.send(Err(e.clone()));
                out.error = Some(e);
                return out;
            }
        };
        let _ = ready.send(Ok(()));
        loop {
            let incoming = tokio::select! {
                biased;
                _ = stop.changed() => break,
                m = d.next() => m,
            };
            match incoming {
                Ok(Incoming::Text(r)) => {
                    let at = Instant::now();
                    let msg = d.text(r);
                    out.frames += 1;
                    out.bytes += msg.len() as u64;
                    let hall = self.hall;
                    let mut n = 0;
                    let called = call_tickets(msg, |t| {
                        if let Some(num) = ticket_number(t) {
                            out.arrivals.push((crate::screens::call_key(hall, num), at));
                            n += 1;
                        }
                    });
                    if called {
                        out.call_frames += 1;
                        out.call_bytes += msg.len() as u64;
                        self.delivered.fetch_add(n, Ordering::Relaxed);
                    } else if msg.starts_with(br#"{"type":"snapshot""#) {
                        out.resnapshots += 1;
                    }
                }
                Ok(Incoming::Closed) => {
                    out.closed = true;
                    break;
                }
                Err(e) => {
                    out.error = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        out
    }

    /// Connects (a few tries: a burst of connects can overflow the
    /// backlog) and waits for the first message.
    async fn open(&self, addr: SocketAddr, path: &str, gate: &Semaphore) -> anyhow::Result<Display> {
        // The semaphore is never closed.
        let _permit = gate.acquire().await?;
        let mut tries = 0;
        loop {
            tries += 1;
            let attempt = async {
                let mut d = Display::connect(addr, path).await?;
                match tokio::time::timeout(Duration::from_secs(30), d.next()).await {
                    Ok(Ok(Incoming::Text(_))) => Ok(d),
                    Ok(Ok(Incoming::Closed)) => bail!("closed before its first message"),
                    Ok(Err(e)) => Err(e),
                    Err(_) => bail!("no first message within 30 s"),
                }
            };
            match attempt.await {
                Ok(d) => return Ok(d),
                Err(e) if tries >= 3 => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * tries)).await,
            }
        }
    }
}

/// Every screen's deliveries against the calls sent.
#[derive(Debug, Default)]
pub struct Tally {
    /// Call-to-screen latencies in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Arrivals naming a call the run did not record sending.
    pub unknown: u64,
    pub frames: u64,
    pub bytes: u64,
    pub call_frames: u64,
    pub call_bytes: u64,
    pub resnapshots: u64,
    pub closed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// When the last call reached a screen.
    pub last_arrival: Option<Instant>,
}

impl Tally {
    /// `sends` maps each call's key to the instant its request was sent.
    pub fn new(outcomes: &[Outcome], sends: &HashMap<u32, Instant>) -> Tally {
        let mut per_hall: HashMap<u32, u64> = HashMap::new();
        for k in sends.keys() {
            *per_hall.entry(key_hall(*k)).or_default() += 1;
        }
        let mut t = Tally::default();
        let mut seen = HashSet::new();
        for o in outcomes {
            let expected = per_hall.get(&o.hall).copied().unwrap_or(0);
            t.expected += expected;
            seen.clear();
            for (key, at) in &o.arrivals {
                let Some(sent) = sends.get(key) else {
                    t.unknown += 1;
                    continue;
                };
                if !seen.insert(*key) {
                    t.duplicates += 1;
                    continue;
                }
                t.latencies_us
                    .push(at.saturating_duration_since(*sent).as_micros() as u64);
                t.last_arrival = Some(t.last_arrival.map_or(*at, |l| l.max(*at)));
            }
            t.delivered += seen.len() as u64;
            t.missing += expected.saturating_sub(seen.len() as u64);
            t.frames += o.frames;
            t.bytes += o.bytes;
            t.call_frames += o.call_frames;
            t.call_bytes += o.call_bytes;
            t.resnapshots += o.resnapshots;
            t.closed += u64::from(o.closed);
            if let Some(e) = &o.error {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| e.clone());
            }
        }
        t.latencies_us.sort_unstable();
        t
    }

    /// The mean size of a delta that carried a call (to size the
    /// baseline's messages like hallcall's).
    pub fn mean_call_frame(&self) -> usize {
        self.call_bytes.checked_div(self.call_frames).unwrap_or(0) as usize
    }

    /// The mean size of the other frames.
    pub fn mean_other_frame(&self) -> usize {
        (self.bytes - self.call_bytes)
            .checked_div(self.frames - self.call_frames)
            .unwrap_or(0) as usize
    }
}
