//! The day's tickets, in issue order, indexed by position. Stored in
//! fixed-size chunks rather than one vector: a vector that doubles copies
//! every ticket of the day at once, under the hall's lock (and again in
//! the store's durable copy), which on a busy day held operations up for
//! a tenth of a second and more (BENCHMARKS.md). A chunk is never moved.

use std::ops::{Index, IndexMut};

use super::ticket::Ticket;

/// Tickets per chunk: a day of a busy hall fits in one or two.
const CHUNK: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tickets {
    chunks: Vec<Vec<Ticket>>,
    len: usize,
}

impl Tickets {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, t: Ticket) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        // A chunk was just made if the last was full.
        if let Some(last) = self.chunks.last_mut() {
            last.push(t);
            self.len += 1;
        }
    }

    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> Option<&Ticket> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Ticket> + '_ {
        self.chunks.iter().flatten()
    }
}

impl Index<usize> for Tickets {
    type Output = Ticket;
    fn index(&self, i: usize) -> &Ticket {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl IndexMut<usize> for Tickets {
    fn index_mut(&mut self, i: usize) -> &mut Ticket {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<'a> IntoIterator for &'a Tickets {
    type Item = &'a Ticket;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Ticket>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{code, config, local};
    use crate::engine::{Channel, Command, Hall, Issue};

    #[test]
    fn tickets_across_chunks_keep_their_places_and_order() {
        let mut hall = Hall::new(config());
        let cmd = Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
        let n = CHUNK * 2 + 7;
        for _ in 0..n {
            hall.execute(&cmd, local(10, 0)).unwrap();
        }
        let tickets = &hall.st.tickets;
        assert_eq!(tickets.len(), n);
        assert_eq!(tickets.chunks.len(), 3);
        assert!(tickets.chunks.iter().all(|c| c.capacity() == CHUNK), "never grown");
        for (i, t) in tickets.iter().enumerate() {
            assert_eq!(&tickets[i], t);
            assert_eq!(tickets.get(i), Some(t));
            assert_eq!(t.number.to_string(), format!("A{:03}", i + 1));
        }
        assert!(tickets.get(n).is_none());
    }
}
