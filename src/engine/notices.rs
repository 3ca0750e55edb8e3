//! Telling a citizen their turn is near. A ticket issued with a contact
//! reference (`Issue::notice`; the details themselves are the shell's,
//! kept apart from the log and erased when the day ends) gets one
//! `TicketNearing` when `policy.notice_ahead` people or fewer are ahead of
//! it, however many places it moves at once. The engine decides when; the
//! shell's outbox sends the notice.

use super::event::EventKind;
use super::hall::Hall;
use super::ids::{Millis, TicketNumber};
use super::ticket::TicketState;

/// A citizen's contact reference: 16 random bytes naming their details
/// in the shell's contact store, written as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoticeRef(pub [u8; 16]);

impl std::fmt::Display for NoticeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for NoticeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoticeRef({self})")
    }
}

impl std::str::FromStr for NoticeRef {
    type Err = String;
    fn from_str(s: &str) -> Result<NoticeRef, String> {
        let bad = || "a notice's contact reference is 32 lower-case hex digits".to_owned();
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(NoticeRef(out))
    }
}

impl serde::Serialize for NoticeRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NoticeRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NoticeRef, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Hall {
    /// The `TicketNearing` events due now, in ticket order.
    pub(super) fn nearing(&self, now: Millis) -> Vec<EventKind> {
        let n = self.cfg.policy.notice_ahead;
        if n == 0 || self.st.noticed.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for &t in &self.st.noticed {
            let tk = &self.st.tickets[t];
            if tk.near_told || tk.state != TicketState::Waiting {
                continue;
            }
            let ahead = self.people_ahead(t, now);
            if ahead <= n as usize {
                out.push(EventKind::TicketNearing {
                    ticket: tk.number,
                    ahead: ahead as u32,
                });
            }
        }
        out
    }

    /// Keeps only the tickets still to be told (not told, not over): the
    /// same list a snapshot's restore makes, whatever the order of events.
    pub(super) fn watch_noticed(&mut self) {
        let tickets = &self.st.tickets;
        self.st
            .noticed
            .retain(|&i| tickets[i].notice.is_some() && !tickets[i].near_told && !tickets[i].state.is_terminal());
    }

    pub(super) fn apply_nearing(&mut self, ticket: TicketNumber) -> Result<(), String> {
        let &t = self
            .st
            .by_number
            .get(&ticket)
            .ok_or_else(|| format!("no ticket {ticket} today"))?;
        let tk = &mut self.st.tickets[t];
        if tk.notice.is_none() || tk.near_told {
            return Err(format!("ticket {ticket} was not waiting to be told"));
        }
        tk.near_told = true;
        Ok(())
    }

    /// The citizen's contact reference of a ticket of today, if they gave one.
    pub fn notice_ref(&self, ticket: TicketNumber) -> Option<NoticeRef> {
        let &t = self.st.by_number.get(&ticket)?;
        self.st.tickets[t].notice
    }
}

#[cfg(test)]
mod tests {
    use super::NoticeRef;
    use crate::engine::tests::{code, config, local};
    use crate::engine::{Channel, Command, EventKind, Hall, Issue};

    fn issue(notice: Option<&str>) -> Command {
        Command::Issue(Issue {
            notice: notice.map(|n| n.parse().unwrap()),
            ..Issue::normal(code("general"), code("apply"), Channel::Kiosk)
        })
    }

    fn nearing(evs: &[crate::engine::Event]) -> Vec<(String, u32)> {
        evs.iter()
            .filter_map(|e| match e.kind {
                EventKind::TicketNearing { ticket, ahead } => Some((ticket.to_string(), ahead)),
                _ => None,
            })
            .collect()
    }

    /// Seven tickets, four from phones; the seventh's citizen asked (3
    /// ahead by default). Two calls take it from 6 ahead to 4; cancelling
    /// the phone tickets left takes it to 2 in one command: one event, with
    /// 2; later moves make none.
    #[test]
    fn told_once_when_near_even_when_several_places_go_at_once() {
        let mut h = Hall::new(config());
        let mut log = Vec::new();
        for w in 1..=2 {
            log.extend(
                h.execute(&Command::Open { window: w, staff: None }, local(9, 0))
                    .unwrap(),
            );
        }
        let r = "0123456789abcdef0123456789abcdef";
        for i in 0..7 {
            let cmd = match i {
                0..4 => Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Mobile)),
                6 => issue(Some(r)),
                _ => issue(None),
            };
            log.extend(h.execute(&cmd, local(9, 1)).unwrap());
        }
        let mut told = Vec::new();
        for w in 1..=2 {
            let evs = h.execute(&Command::CallNext { window: w }, local(9, 5)).unwrap();
            told.extend(nearing(&evs));
            log.extend(evs);
        }
        assert!(told.is_empty(), "4 ahead: not yet");
        let evs = h
            .execute(&Command::CancelPhoneTickets { zone: None }, local(9, 6))
            .unwrap();
        assert_eq!(nearing(&evs), [("A007".to_owned(), 2)]);
        log.extend(evs);
        let evs = h
            .execute(
                &Command::Cancel {
                    ticket: "A005".parse().unwrap(),
                },
                local(9, 7),
            )
            .unwrap();
        assert!(nearing(&evs).is_empty(), "told already");
        log.extend(evs);
        // Replay and snapshot keep it told.
        let mut replay = Hall::new(config());
        for e in &log {
            replay.apply(e).unwrap();
        }
        assert!(replay.snapshot().tickets[6].near_told);
        let back = Hall::restore(config(), &h.snapshot()).unwrap();
        assert!(back.st.noticed.is_empty());
        assert!(back == h && replay == h, "restored and replayed as live");
        assert_eq!(back.notice_ref("A007".parse().unwrap()), Some(r.parse().unwrap()));
    }

    #[test]
    fn near_when_taken_needs_no_second_notice_and_bad_references_are_refused() {
        let mut h = Hall::new(config());
        let evs = h
            .execute(&issue(Some("00000000000000000000000000000000")), local(9, 1))
            .unwrap();
        assert!(nearing(&evs).is_empty(), "the issued notice says it is near");
        assert!(h.snapshot().tickets[0].near_told);
        for bad in ["short", "0123456789ABCDEF0123456789ABCDEF", &"0".repeat(33)] {
            assert!(bad.parse::<NoticeRef>().is_err(), "{bad}");
        }
        let r: NoticeRef = "00ff00ff00ff00ff00ff00ff00ff00ff".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "\"00ff00ff00ff00ff00ff00ff00ff00ff\""
        );
    }
}
