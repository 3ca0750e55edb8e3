//! The latest calls of the day, newest last: what a hall screen lists and
//! a new screen starts from. Kept as the events are applied, so reading
//! them costs nothing however many tickets the day has (scanning every
//! ticket's history for them took seconds on a day of 700,000 tickets).
//! Not part of a hall's equality: a hall restored from a snapshot rebuilds
//! them from the tickets' histories.

use std::collections::VecDeque;

use super::ids::{Millis, TicketNumber, WindowNo};
use super::ticket::StepKind;
use super::tickets::Tickets;

/// Calls kept.
pub const RECENT_CALLS: usize = 20;

/// A call (叫号) or recall (重呼).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallMade {
    pub at: Millis,
    pub ticket: TicketNumber,
    pub window: WindowNo,
    /// 0 for a first call, then the recall count.
    pub recall: u32,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RecentCalls(VecDeque<CallMade>);

impl RecentCalls {
    pub(crate) fn push(&mut self, c: CallMade) {
        if self.0.len() == RECENT_CALLS {
            self.0.pop_front();
        }
        self.0.push_back(c);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &CallMade> + '_ {
        self.0.iter()
    }

    /// The latest calls, rebuilt from the tickets' histories (a hall
    /// restored from a snapshot).
    pub(crate) fn rebuilt(tickets: &Tickets) -> RecentCalls {
        let mut all: Vec<CallMade> = Vec::new();
        for t in tickets {
            let mut recall = 0;
            for step in &t.history {
                match (step.what, step.window) {
                    (StepKind::Called, Some(window)) => {
                        recall = 0;
                        all.push(CallMade {
                            at: step.at,
                            ticket: t.number,
                            window,
                            recall,
                        });
                    }
                    (StepKind::Recalled, Some(window)) => {
                        recall += 1;
                        all.push(CallMade {
                            at: step.at,
                            ticket: t.number,
                            window,
                            recall,
                        });
                    }
                    _ => {}
                }
            }
        }
        all.sort_by_key(|c| c.at);
        let mut out = RecentCalls::default();
        let skip = all.len().saturating_sub(RECENT_CALLS);
        for c in all.into_iter().skip(skip) {
            out.push(c);
        }
        out
    }
}
