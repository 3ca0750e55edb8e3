//! 超时预警: alerts raised and cleared by the passing of time and by the
//! hall's own changes, from the thresholds in the configuration. Decided
//! like everything else (pure, `now` passed in) and recorded as events, so
//! every alert's raising, acknowledgement and clearing is in the log.

use super::alert::{Alert, AlertKind, AlertTarget};
use super::event::EventKind;
use super::hall::Hall;
use super::ids::Millis;
use super::ticket::TicketState;

impl Hall {
    /// The alert conditions that hold at `now`: (kind, target, value,
    /// limit). Only a queue's length changes with operations; waits,
    /// services and pauses grow with time, so they are looked at on the
    /// hall's tick (`timed`), which keeps every operation cheap.
    fn alert_conditions(&self, now: Millis, timed: bool) -> Vec<(AlertKind, AlertTarget, i64, i64)> {
        let mut out = Vec::new();
        for (zi, z) in self.cfg.zones.iter().enumerate() {
            let target = AlertTarget::Zone { zone: z.id };
            if let Some(limit) = z.alerts.queue {
                let waiting = self.waiting_in(zi);
                if waiting > limit {
                    out.push((AlertKind::LongQueue, target, waiting as i64, limit as i64));
                }
            }
            if let (true, Some(limit)) = (timed, z.alerts.wait_ms) {
                let longest = self.longest_wait(zi, now);
                if longest > limit {
                    out.push((AlertKind::LongWait, target, longest, limit));
                }
            }
        }
        if !timed {
            return out;
        }
        for (w, (c, ws)) in self.cfg.windows.iter().zip(&self.st.windows).enumerate() {
            let target = AlertTarget::Window { window: c.number };
            if let (Some(limit), Some((_, since))) = (self.cfg.policy.alert_pause_ms, ws.paused) {
                if ws.open && now.since(since) > limit {
                    out.push((AlertKind::LongPause, target, now.since(since), limit));
                }
            }
            let Some(t) = ws.current else { continue };
            let tk = &self.st.tickets[t];
            if let (TicketState::Serving { .. }, Some(started)) = (tk.state, tk.started_at) {
                if let Some(limit) = self.cfg.zones[tk.zone].alerts.service_ms {
                    if now.since(started) > limit {
                        out.push((AlertKind::LongService, target, now.since(started), limit));
                    }
                }
            }
            let _ = w;
        }
        out
    }

    /// The events that bring the raised alerts in line with `now` (for the
    /// kinds looked at: see [`Hall::alert_conditions`]).
    pub(crate) fn alert_changes(&self, now: Millis, timed: bool) -> Vec<EventKind> {
        if self.st.alerts.is_empty() && !self.cfg.has_alerts() {
            return Vec::new();
        }
        let holds = self.alert_conditions(now, timed);
        let mut events = Vec::new();
        for a in &self.st.alerts {
            let looked_at = timed || a.kind == AlertKind::LongQueue;
            if looked_at && !holds.iter().any(|(k, t, _, _)| *k == a.kind && *t == a.target) {
                events.push(EventKind::AlertCleared {
                    alert: a.kind,
                    target: a.target,
                });
            }
        }
        for (kind, target, value, limit) in holds {
            if !self.st.alerts.iter().any(|a| a.kind == kind && a.target == target) {
                events.push(EventKind::AlertRaised {
                    alert: kind,
                    target,
                    value,
                    limit,
                });
            }
        }
        events
    }

    /// The alerts that are up, oldest first.
    pub fn alerts(&self) -> &[Alert] {
        &self.st.alerts
    }
}
