//! One hall's feed: its recent frames and its broadcast channel, made from
//! the durable event stream. The hall itself is the stream's durable copy:
//! the feed keeps none, and reads it under the stream's lock to build a
//! frame or a subscriber's starting point.
//!
//! Lock order: the stream's hall, then the feed's caches; the ring is
//! never held while the hall is locked. Frames are made in `frame`,
//! starting points in `snapshot`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::broadcast;

use super::frame::{Frame, Parts, catch_up, parts};
use super::scope::{Format, Scope};
use super::snapshot::{Caches, slot, snapshot};
use crate::engine::{Event, Hall, HallId, Millis};
use crate::store::{Batch, Epoch, Stream};
use crate::wire::live::Resumed;
use crate::wire::{self, Audience};
use crate::ws::text_frame;

/// Frames kept per hall, both for resuming clients and in the broadcast
/// ring. A client further behind than this catches up from the stream.
pub const RING: usize = 1024;

/// Where a client resuming says it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The last sequence number it holds.
    pub since: u64,
    /// The incarnation of the log that number is from, when it knows it.
    pub epoch: Option<Epoch>,
}

/// The frames kept for resuming clients.
struct Ring {
    frames: VecDeque<Arc<Frame>>,
    /// The last sequence number the feed has made a frame of (or started
    /// from): frames after it are still to come, on the channel.
    published: u64,
}

pub struct Feed {
    id: HallId,
    stream: Stream,
    /// JSON subscribers per audience (see [`slot`]): a frame is serialized
    /// only for an audience someone is following.
    readers: Arc<[AtomicUsize; 2]>,
    ring: Mutex<Ring>,
    caches: Mutex<Caches>,
    tx: broadcast::Sender<Arc<Frame>>,
}

/// Where a new subscriber starts: what to send first, and the receiver
/// positioned just after it.
pub struct Start {
    pub first: Vec<Bytes>,
    /// The sequence number the first messages bring the client to.
    pub seq: u64,
    pub rx: broadcast::Receiver<Arc<Frame>>,
    /// Keep while subscribed: frames are made for this audience until it
    /// is dropped.
    pub reader: Reader,
}

/// A JSON subscriber of one audience, counted while it lives.
pub struct Reader(Option<(Arc<[AtomicUsize; 2]>, usize)>);

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some((readers, i)) = &self.0 {
            readers[*i].fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What a subscriber does with one frame.
pub enum Render {
    Skip,
    Send(Bytes),
    /// Send a fresh snapshot instead.
    Resnapshot,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Frames and caches are replaced whole: a panic elsewhere cannot leave
    // them half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Feed {
    /// The feed of one of the stream's halls.
    /// (Its spec is read from the stream's hall when needed: a new
    /// configuration version changes it.)
    pub fn new(stream: Stream, id: HallId) -> Feed {
        let published = stream.durable_seq(id).unwrap_or(0);
        Feed {
            id,
            stream,
            readers: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
            ring: Mutex::new(Ring {
                frames: VecDeque::with_capacity(RING),
                published,
            }),
            caches: Mutex::new(Caches::default()),
            tx: broadcast::channel(RING).0,
        }
    }

    /// Makes a durable batch's frame, keeps it for resuming clients and
    /// sends it to every subscriber.
    pub fn publish(&self, batch: &Arc<Batch>) {
        // Read under the stream's lock on the hall, serialized after it:
        // the writer waits on that lock to commit the next batch.
        let Some(parts) = self.stream.with_hall(self.id, |hall| parts(hall, batch)) else {
            return;
        };
        let wanted = [
            self.readers[0].load(Ordering::SeqCst) > 0,
            self.readers[1].load(Ordering::SeqCst) > 0,
        ];
        let frame = Arc::new(parts.frame(batch, wanted));
        {
            let mut ring = lock(&self.ring);
            if ring.frames.len() == RING {
                ring.frames.pop_front();
            }
            ring.frames.push_back(frame.clone());
            ring.published = frame.seq;
        }
        // No subscribers is not an error.
        let _ = self.tx.send(frame);
    }

    /// The hall's log was replaced (or the feed fell too far behind to
    /// know what it missed): every subscriber takes a fresh snapshot, and
    /// no one resumes from the frames kept before.
    pub fn reset(&self) {
        let seq = self.stream.durable_seq(self.id).unwrap_or(0);
        {
            let mut ring = lock(&self.ring);
            ring.frames.clear();
            ring.published = seq;
        }
        let _ = self.tx.send(Arc::new(Frame {
            from: seq,
            seq,
            reset: true,
            staff: None,
            display: None,
            zones: Vec::new(),
            windows: Vec::new(),
            tickets: Vec::new(),
            calls: Vec::new(),
            led: None,
            window_led: Vec::new(),
            batch: Arc::new(Batch {
                hall: self.id,
                events: Vec::new(),
            }),
            parts: Arc::new(Parts::default()),
        }));
    }

    /// A new subscriber's starting point. A JSON client that resumes from
    /// a point this log still holds (the same incarnation, or one it
    /// continues) gets `resumed` and every delta it missed: from the ring,
    /// or else read from the stream; anyone else a snapshot. `None` for a
    /// ticket that does not exist (today).
    pub async fn subscribe(
        &self,
        scope: Scope,
        format: Format,
        audience: Audience,
        resume: Option<Resume>,
        now: Millis,
    ) -> Option<Start> {
        // Counted before anything is read: every frame made from now on
        // carries this audience's delta, and one made before is at or
        // before the point this subscriber starts from.
        let reader = self.reader(scope, format, audience);
        if let (Some(r), Format::Json, false) = (resume, format, matches!(scope, Scope::Ticket(_)))
            && self.continues(r)
        {
            if let Some((first, seq, rx)) = self.resume_from_ring(scope, format, audience, r, now) {
                return Some(Start { first, seq, rx, reader });
            }
            let rx = self.tx.subscribe();
            let read = self
                .stream
                .read_since(self.id, r.since, |hall, epoch, events| {
                    (self.catch_up(hall, audience, r.since, events), epoch)
                })
                .await;
            match read {
                Ok(Some(((seq, deltas), epoch))) => {
                    let mut first = vec![resumed(r.since, seq, epoch, now)];
                    first.extend(deltas.iter().cloned());
                    return Some(Start { first, seq, rx, reader });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(hall = %self.id, error = %e, "cannot read the log to resume a client: a snapshot instead")
                }
            }
        }
        let rx = self.tx.subscribe();
        let (seq, snap) = self.snapshot(scope, format, audience, now)?;
        Some(Start {
            first: vec![snap],
            seq,
            rx,
            reader,
        })
    }

    /// Counts a JSON subscriber of a hall, zone or window (the others take
    /// no delta from a frame).
    fn reader(&self, scope: Scope, format: Format, audience: Audience) -> Reader {
        if format != Format::Json || matches!(scope, Scope::Ticket(_)) {
            return Reader(None);
        }
        let i = slot(audience);
        self.readers[i].fetch_add(1, Ordering::SeqCst);
        Reader(Some((self.readers.clone(), i)))
    }

    /// Whether a client at `r` saw only history this log still holds.
    /// Without an epoch (an older client), only the current incarnation
    /// counts.
    fn continues(&self, r: Resume) -> bool {
        match r.epoch {
            Some(epoch) => self.stream.continues(self.id, epoch, r.since),
            None => self.stream.epochs(self.id).is_some_and(|e| {
                let first = e.0.last().map_or(1, |(_, first)| *first);
                let last = self.stream.durable_seq(self.id).unwrap_or(0);
                r.since + 1 >= first && r.since <= last
            }),
        }
    }

    /// The frames after `r.since`, if the ring holds every one of them
    /// (those the feed has not made yet come on the channel).
    fn resume_from_ring(
        &self,
        scope: Scope,
        format: Format,
        audience: Audience,
        r: Resume,
        now: Millis,
    ) -> Option<(Vec<Bytes>, u64, broadcast::Receiver<Arc<Frame>>)> {
        let ring = lock(&self.ring);
        let rx = self.tx.subscribe();
        let missed: Vec<&Arc<Frame>> = ring.frames.iter().filter(|f| f.seq > r.since).collect();
        if r.since < ring.published {
            // The ring must hold the frame with the very next event (the
            // client may hold the first part of it: it caught up to the
            // middle of a batch), and none after it may be a reset or lack
            // this audience's delta (made while nobody of it followed).
            let next = missed.first()?;
            let unmade = |f: &Arc<Frame>| match audience {
                Audience::Staff => f.staff.is_none(),
                Audience::Display => f.display.is_none(),
            };
            if next.from > r.since + 1 || next.reset || missed[1..].iter().any(|f| f.reset || unmade(f)) {
                return None;
            }
        }
        let seq = ring.published.max(r.since);
        let served = self.served(scope);
        let mut first = vec![resumed(r.since, seq, self.stream.epoch(self.id), now)];
        for f in missed {
            let rendered = match render_frame(f, scope, format, audience, &served) {
                Render::Send(_) | Render::Resnapshot if f.from <= r.since => Some(self.partial(f, r.since, audience)),
                Render::Send(b) => Some(b),
                _ => None,
            };
            first.extend(rendered);
        }
        Some((first, seq, rx))
    }

    /// The deltas that bring a client from `since` to the hall as it
    /// stands, shared by clients asking for the same; with the sequence
    /// number they bring it to. Runs under the stream's lock on the hall.
    fn catch_up(&self, hall: &Hall, audience: Audience, since: u64, events: Vec<Event>) -> (u64, Arc<Vec<Bytes>>) {
        let seq = hall.seq();
        let mut caches = lock(&self.caches);
        if let Some((s, q, deltas)) = &caches.catch_up[slot(audience)]
            && (*s, *q) == (since, seq)
        {
            return (seq, deltas.clone());
        }
        let deltas = Arc::new(catch_up(hall, audience, &events));
        caches.catch_up[slot(audience)] = Some((since, seq, deltas.clone()));
        (seq, deltas)
    }

    /// A fresh snapshot for `scope` and the sequence number it is as of.
    pub fn snapshot(&self, scope: Scope, format: Format, audience: Audience, now: Millis) -> Option<(u64, Bytes)> {
        self.stream
            .with_hall_epoch(self.id, |hall, epoch| {
                let mut caches = lock(&self.caches);
                snapshot(hall, &mut caches, scope, format, audience, now, epoch).map(|s| (hall.seq(), s))
            })
            .flatten()
    }

    /// The zones of a window scope's window (its waiting lists are shown too).
    pub fn served(&self, scope: Scope) -> Vec<usize> {
        match scope {
            // The hall's spec as it stands: a new configuration may have
            // changed what the window serves.
            Scope::Window(w, _) => self
                .stream
                .with_hall(self.id, |hall| {
                    hall.spec()
                        .windows
                        .get(w)
                        .map(|x| x.serves.iter().map(|s| s.zone).collect())
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The delta of `frame`'s events after `after` alone, for a client that
    /// has the rest of them (it caught up to the middle of the batch the
    /// frame carries, or took its snapshot there).
    pub fn partial(&self, frame: &Frame, after: u64, audience: Audience) -> Bytes {
        frame.rest(after, audience)
    }

    /// What a subscriber with `scope` sends for `frame`; `served` lists the
    /// zones of a window scope's window.
    ///
    /// `sent` is where the subscriber is: a frame it holds the first part
    /// of (it started from the middle of the batches the frame joins) is
    /// sent as the rest only ([`Feed::partial`]).
    pub fn render(
        &self,
        frame: &Frame,
        sent: u64,
        scope: Scope,
        format: Format,
        audience: Audience,
        served: &[usize],
    ) -> Render {
        if frame.reset {
            return Render::Resnapshot;
        }
        if let Scope::Ticket(number) = scope {
            let concerned = frame.tickets.contains(&number)
                || self
                    .stream
                    .with_hall(self.id, |hall| hall.ticket_place(number))
                    .flatten()
                    .is_some_and(|(z, _, _)| frame.zones.contains(&z));
            return if concerned { Render::Resnapshot } else { Render::Skip };
        }
        // Shared frames need no state: no lock on the hot path.
        match render_frame(frame, scope, format, audience, served) {
            Render::Send(_) if frame.from <= sent && format == Format::Json => {
                Render::Send(self.partial(frame, sent, audience))
            }
            r => r,
        }
    }
}

fn resumed(since: u64, seq: u64, epoch: Option<Epoch>, now: Millis) -> Bytes {
    text_frame(&wire::to_json(&Resumed {
        kind: "resumed",
        since,
        seq,
        epoch: epoch.map(|e| e.to_string()),
        at: now,
    }))
}

fn render_frame(frame: &Frame, scope: Scope, format: Format, audience: Audience, served: &[usize]) -> Render {
    // A frame made before this subscriber was counted lacks its delta; it
    // is behind the subscriber's start, so this is only a safety net.
    let json = || {
        match audience {
            Audience::Staff => frame.staff.clone(),
            Audience::Display => frame.display.clone(),
        }
        .map_or(Render::Resnapshot, Render::Send)
    };
    match (format, scope) {
        (Format::Json, Scope::Hall) => json(),
        (Format::Json, Scope::Zone(z)) if frame.zones.contains(&z) => json(),
        (Format::Json, Scope::Window(w, _))
            if frame.windows.contains(&w) || frame.zones.iter().any(|z| served.contains(z)) =>
        {
            json()
        }
        (Format::Led, Scope::Hall) => frame.led.clone().map_or(Render::Skip, Render::Send),
        (Format::Led, Scope::Zone(z)) => {
            let lines: Vec<&str> = frame
                .calls
                .iter()
                .filter(|(cz, _)| *cz == z)
                .map(|(_, l)| l.as_str())
                .collect();
            if lines.is_empty() {
                Render::Skip
            } else {
                Render::Send(text_frame(&lines.join("\n")))
            }
        }
        (Format::Led, Scope::Window(w, _)) => frame
            .window_led
            .iter()
            .find(|(x, _)| *x == w)
            .map_or(Render::Skip, |(_, l)| Render::Send(l.clone())),
        _ => Render::Skip,
    }
}
