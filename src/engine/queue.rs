//! One lane of a zone's queue: its tickets front first, and which services
//! they are for, so that "is anything here this window takes" is a test of
//! two masks, not a walk of the queue. A window that takes none of a long
//! queue's services (a results-only window beside a busy intake) asks that
//! on every call, and a report's fold on every event.

use std::collections::VecDeque;
use std::ops::Deref;

use super::spec::ServiceMask;

#[derive(Clone, Debug)]
pub(crate) struct Queue {
    tickets: VecDeque<usize>,
    /// Tickets per service index (validation caps a zone at 64 services).
    per_service: [u32; 64],
    /// Bit `s` set while a ticket of service `s` waits here.
    present: u64,
}

/// Where a ticket joins a queue.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Join {
    Front,
    Back,
    /// After this many tickets, or last in a shorter queue.
    After(usize),
}

impl Join {
    /// Puts ticket `t` in a plain queue (a window's own) here.
    pub fn put(self, q: &mut VecDeque<usize>, t: usize) {
        match self {
            Join::Front => q.push_front(t),
            Join::Back => q.push_back(t),
            Join::After(n) => q.insert(n.min(q.len()), t),
        }
    }
}

/// Takes ticket `t` out of a plain queue; false if it was not there.
pub(crate) fn take_out(q: &mut VecDeque<usize>, t: usize) -> bool {
    match q.iter().position(|&x| x == t) {
        Some(i) => q.remove(i).is_some(),
        None => false,
    }
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            tickets: VecDeque::new(),
            per_service: [0; 64],
            present: 0,
        }
    }
}

impl Queue {
    /// Whether a ticket of one of these services waits here.
    pub fn has_any(&self, services: ServiceMask) -> bool {
        self.present & services.0 != 0
    }

    /// Puts ticket `t` (of service index `service`) in.
    pub fn join(&mut self, t: usize, service: usize, at: Join) {
        at.put(&mut self.tickets, t);
        self.per_service[service] += 1;
        self.present |= 1 << service;
    }

    /// Takes ticket `t` (of service index `service`) out; false if it was
    /// not here.
    pub fn leave(&mut self, t: usize, service: usize) -> bool {
        if !take_out(&mut self.tickets, t) {
            return false;
        }
        self.per_service[service] -= 1;
        if self.per_service[service] == 0 {
            self.present &= !(1 << service);
        }
        true
    }
}

#[cfg(test)]
impl Queue {
    /// Whether the counts are those of the tickets here.
    pub fn counts_agree(&self, service_of: impl Fn(usize) -> usize) -> bool {
        let mut per_service = [0u32; 64];
        for &t in &self.tickets {
            per_service[service_of(t)] += 1;
        }
        let present = (0..64).filter(|&s| per_service[s] > 0).fold(0u64, |m, s| m | 1 << s);
        per_service == self.per_service && present == self.present
    }
}

/// Read as the queue of tickets it is.
impl Deref for Queue {
    type Target = VecDeque<usize>;

    fn deref(&self) -> &VecDeque<usize> {
        &self.tickets
    }
}

impl<'a> IntoIterator for &'a Queue {
    type Item = &'a usize;
    type IntoIter = std::collections::vec_deque::Iter<'a, usize>;

    fn into_iter(self) -> Self::IntoIter {
        self.tickets.iter()
    }
}

/// The same tickets in the same order: the counts follow from them.
impl PartialEq for Queue {
    fn eq(&self, other: &Queue) -> bool {
        self.tickets == other.tickets
    }
}

impl Eq for Queue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_follows_the_tickets_in_and_out() {
        let mut q = Queue::default();
        let (intake, results) = (ServiceMask(0b01), ServiceMask(0b10));
        assert!(!q.has_any(intake));
        q.join(7, 0, Join::Back);
        q.join(8, 0, Join::Front);
        q.join(9, 1, Join::After(1));
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![8, 9, 7]);
        assert!(q.has_any(intake) && q.has_any(results));
        assert!(q.leave(9, 1));
        assert!(!q.has_any(results), "the last of a service gone");
        assert!(!q.leave(9, 1), "not here twice");
        assert!(q.leave(8, 0));
        assert!(q.has_any(intake), "one of two left");
        assert!(q.leave(7, 0));
        assert!(!q.has_any(intake) && q.is_empty());
        q.join(1, 63, Join::After(5));
        assert!(q.has_any(ServiceMask(1 << 63)));
        assert!(q.counts_agree(|_| 63));
    }
}
