//! The counters of `/metrics`, kept by a subscriber of the durable event
//! stream: what was issued, called, served, skipped for good and
//! transferred, per hall and zone, and how long each called ticket waited.
//!
//! A call's zone and wait depend on where the ticket stood before it, so
//! the subscriber keeps, per hall, each ticket of the day's zone and since
//! when it has waited: a few bytes a ticket, not a copy of the hall.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Counted, Metrics};
use crate::engine::{Event, EventKind, HallId, HallSpec, Millis, Target, TicketNumber};
use crate::store::{Batch, Change, Stream};

/// Where a ticket of today is, as far as the counters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    zone: usize,
    /// Since when it has waited in a queue; `None` while it is not waiting.
    queued: Option<Millis>,
}

/// One hall's tickets of the day.
#[derive(Debug)]
pub(crate) struct Tally {
    spec: Arc<HallSpec>,
    /// Fx-hashed: one insert per ticket issued, on the path of every batch.
    tickets: rustc_hash::FxHashMap<TicketNumber, Place>,
}

impl Tally {
    pub(crate) fn new(spec: Arc<HallSpec>) -> Tally {
        Tally {
            spec,
            tickets: rustc_hash::FxHashMap::default(),
        }
    }

    /// Counts one event into `m` and follows the ticket it moves.
    pub(crate) fn count(&mut self, m: &Metrics, e: &Event) {
        let hall = self.spec.id.as_str();
        let zone_name = |z: usize| self.spec.zones[z].id;
        match &e.kind {
            EventKind::DayStarted { .. } => self.tickets.clear(),
            EventKind::TicketIssued { ticket, zone, .. } => {
                if let Some(z) = self.spec.zone_index(*zone) {
                    m.count(hall, zone.as_str(), Counted::Issued);
                    self.tickets.insert(
                        *ticket,
                        Place {
                            zone: z,
                            queued: Some(e.at),
                        },
                    );
                }
            }
            EventKind::TicketCalled { ticket, .. } => {
                if let Some(p) = self.tickets.get_mut(ticket) {
                    let zone = zone_name(p.zone);
                    m.count(hall, zone.as_str(), Counted::Called);
                    if let Some(since) = p.queued.take() {
                        m.waited(hall, zone.as_str(), e.at.since(since) as f64 / 1000.0);
                    }
                }
            }
            EventKind::ServiceFinished { ticket, .. } => {
                if let Some(p) = self.tickets.get(ticket) {
                    m.count(hall, zone_name(p.zone).as_str(), Counted::Served);
                }
            }
            EventKind::TicketSkipped { ticket, no_show, .. } => {
                if let Some(p) = self.tickets.get_mut(ticket) {
                    if *no_show {
                        m.count(hall, zone_name(p.zone).as_str(), Counted::NoShow);
                    } else {
                        p.queued = Some(e.at);
                    }
                }
            }
            EventKind::TicketTransferred { ticket, to, .. } => {
                if let Some(p) = self.tickets.get_mut(ticket) {
                    m.count(hall, zone_name(p.zone).as_str(), Counted::Transferred);
                    if let Target::Zone { zone, .. } = to
                        && let Some(z) = self.spec.zone_index(*zone)
                    {
                        p.zone = z;
                    }
                    p.queued = Some(e.at);
                }
            }
            EventKind::TicketReactivated { ticket } => {
                if let Some(p) = self.tickets.get_mut(ticket) {
                    p.queued = Some(e.at);
                }
            }
            EventKind::TicketHeld { ticket, .. } | EventKind::TicketCancelled { ticket } => {
                if let Some(p) = self.tickets.get_mut(ticket) {
                    p.queued = None;
                }
            }
            _ => {}
        }
    }

    /// Where a ticket is as far as counted: its zone index and since when
    /// it has waited (tests compare it with the engine).
    #[cfg(test)]
    fn place(&self, t: TicketNumber) -> Option<(usize, Option<Millis>)> {
        self.tickets.get(&t).map(|p| (p.zone, p.queued))
    }
}

/// Counts every durable batch of the stream's halls into `metrics`, from
/// now on.
pub fn count_from(stream: &Stream, metrics: Arc<Metrics>) {
    let mut tallies: HashMap<HallId, Tally> = stream
        .halls()
        .filter_map(|h| {
            let hall = stream.hall(h)?;
            let mut tally = Tally::new(hall.spec().clone());
            tally.adopt(&hall);
            Some((h, tally))
        })
        .collect();
    let mut changes = stream.subscribe();
    let stream = stream.clone();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            let Some(tally) = tallies.get_mut(&change.hall()) else {
                continue;
            };
            match change {
                Change::Batch(b) => count_batch(tally, &metrics, &b),
                Change::Reset(h) => {
                    if let Some(hall) = stream.hall(h) {
                        tally.adopt(&hall);
                    }
                }
            }
        }
    });
}

fn count_batch(tally: &mut Tally, metrics: &Metrics, b: &Batch) {
    for e in &b.events {
        tally.count(metrics, e);
    }
}

impl Tally {
    /// Starts from a hall as it stands (at start, or after its log was
    /// replaced): its tickets' zones and waits, counting nothing.
    pub(crate) fn adopt(&mut self, hall: &crate::engine::Hall) {
        self.tickets = hall
            .ticket_numbers()
            .filter_map(|t| {
                let (zone, _, _) = hall.ticket_place(t)?;
                Some((
                    t,
                    Place {
                        zone,
                        queued: hall.waiting_since(t),
                    },
                ))
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::tests::{code, config, local};
    use crate::engine::{Channel, Command, Hall, Issue, PauseReason};

    /// Any command a window or the desk may send, on the test hall.
    fn command() -> impl Strategy<Value = Command> {
        let ticket = (0u32..12).prop_map(|n| format!("A{:03}", n + 1).parse().unwrap());
        let window = 1u16..=3;
        prop_oneof![
            3 => Just(Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk))),
            1 => Just(Command::Issue(Issue::normal(code("police"), code("hukou"), Channel::Kiosk))),
            1 => window.clone().prop_map(|w| Command::Open { window: w, staff: None }),
            3 => window.clone().prop_map(|w| Command::CallNext { window: w }),
            1 => window.clone().prop_map(|w| Command::Recall { window: w }),
            2 => window.clone().prop_map(|w| Command::Skip { window: w }),
            1 => window.clone().prop_map(|w| Command::Start { window: w }),
            1 => window.clone().prop_map(|w| Command::Finish { window: w }),
            1 => window.clone().prop_map(|w| Command::Hold { window: w }),
            1 => (window.clone(), ticket.clone()).prop_map(|(w, t)| Command::CallBack { window: w, ticket: t }),
            1 => window.clone().prop_map(|w| Command::Transfer {
                window: w,
                to: Target::Zone { zone: code("police"), service: code("idcard") },
            }),
            1 => ticket.clone().prop_map(|t| Command::Cancel { ticket: t }),
            1 => ticket.prop_map(|t| Command::Reactivate { ticket: t }),
            1 => window.prop_map(|w| Command::Pause { window: w, reason: PauseReason::Break, minutes: None }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
        /// The counters' idea of each ticket's zone and wait is the
        /// engine's, whatever happens to it.
        #[test]
        fn the_tally_follows_each_ticket_as_the_engine_does(cmds in proptest::collection::vec(command(), 1..80)) {
            let mut hall = Hall::new(config());
            let mut tally = Tally::new(hall.spec().clone());
            let m = Metrics::default();
            for (i, cmd) in cmds.iter().enumerate() {
                let now = local(10, 0).plus_ms(i as i64 * 1000);
                let Ok(events) = hall.execute(cmd, now) else { continue };
                for e in &events {
                    tally.count(&m, e);
                }
                for t in hall.tickets(now) {
                    let (zone, _, _) = hall.ticket_place(t.number).unwrap();
                    prop_assert_eq!(tally.place(t.number), Some((zone, hall.waiting_since(t.number))), "{}", t.number);
                }
            }
        }
    }
}
