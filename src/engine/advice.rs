//! 潮汐窗口 advice: when a ticket taken now in a zone is forecast to wait
//! past the hall's target, which window should take that zone first (or
//! be opened for it), with the waits the forecast gives after the change.
//! Each candidate is tried on a copy of the hall and played forward once
//! at the means (the pages show the median of several plays; one per
//! candidate keeps the advice affordable), so it promises what the same
//! rules of play give. A window put first for a zone whose wait has since
//! fallen well below the target is proposed to go back to its own order.

use serde::Serialize;

use super::command::Command;
use super::forecast::Forecast;
use super::hall::Hall;
use super::ids::{Millis, WindowNo, ZoneId};

/// At most this many windows are tried per zone (each costs a forecast).
pub const MAX_TRIED: usize = 12;

/// What the supervisor is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdviceAction {
    /// Let an open window take the zone first for the rest of the day.
    ServeFirst,
    /// Send staff to a closed window that serves the zone, taking it first.
    OpenAndServeFirst,
    /// The zone is short again: the window goes back to its own order.
    Restore,
}

/// One proposal, with the forecast waits (for a ticket taken now) of the
/// zone before and after it, and the longest of the other zones' after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub action: AdviceAction,
    pub zone: ZoneId,
    pub window: WindowNo,
    pub wait_before_ms: i64,
    pub wait_after_ms: i64,
    pub others_after_ms: i64,
}

fn wait(f: &Forecast, z: usize, now: Millis) -> Option<i64> {
    f.next_call(z).map(|at| at.since(now).max(0))
}

impl Hall {
    /// The advice for now (see the module's comment), longest waits first.
    pub fn advice(&self, now: Millis) -> Vec<Advice> {
        let target = self.cfg.policy.wait_target_ms;
        let base = self.forecast(now);
        let zones = self.cfg.zones.len();
        let before: Vec<Option<i64>> = (0..zones).map(|z| wait(&base, z, now)).collect();
        let mut out = Vec::new();
        for (w, ws) in self.st.windows.iter().enumerate() {
            if let Some(z) = ws.first_zone {
                if before[z].is_some_and(|b| b < target / 2) {
                    out.push(Advice {
                        action: AdviceAction::Restore,
                        zone: self.cfg.zones[z].id,
                        window: self.cfg.windows[w].number,
                        wait_before_ms: before[z].unwrap_or(0),
                        wait_after_ms: before[z].unwrap_or(0),
                        others_after_ms: 0,
                    });
                }
            }
        }
        for z in 0..zones {
            let Some(b) = before[z] else { continue };
            if b <= target {
                continue;
            }
            if let Some(a) = self.best_window_for(z, b, &before, now) {
                out.push(a);
            }
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.wait_before_ms));
        out
    }

    /// The window whose change shortens zone `z`'s wait most without
    /// pushing another zone past both the target and its own wait now.
    fn best_window_for(&self, z: usize, b: i64, before: &[Option<i64>], now: Millis) -> Option<Advice> {
        let target = self.cfg.policy.wait_target_ms;
        let zone = self.cfg.zones[z].id;
        // Open windows that serve the zone but not first; else closed ones
        // that serve it at all.
        let serves = |w: usize| self.cfg.windows[w].serves.iter().position(|e| e.zone == z);
        let mut tried: Vec<(usize, AdviceAction)> = (0..self.cfg.windows.len())
            .filter(|&w| {
                let s = &self.st.windows[w];
                s.open && s.first_zone != Some(z) && serves(w).is_some_and(|p| p > 0 || s.first_zone.is_some())
            })
            .map(|w| (w, AdviceAction::ServeFirst))
            .collect();
        tried.extend(
            (0..self.cfg.windows.len())
                .filter(|&w| !self.st.windows[w].open && serves(w).is_some())
                .map(|w| (w, AdviceAction::OpenAndServeFirst)),
        );
        tried.truncate(MAX_TRIED);
        let mut best: Option<Advice> = None;
        for (w, action) in tried {
            let window = self.cfg.windows[w].number;
            let mut copy = self.copy_for_forecast();
            if action == AdviceAction::OpenAndServeFirst {
                let opened = copy.execute(&Command::Open { window, staff: None }, now).is_ok();
                if !opened {
                    continue;
                }
                let _ = copy.execute(&Command::Resume { window }, now);
            }
            let first = Command::ServeFirst {
                window,
                zone: Some(zone),
            };
            if copy.execute(&first, now).is_err() {
                continue;
            }
            let f = copy.forecast(now);
            let Some(after) = wait(&f, z, now) else { continue };
            let mut others = 0;
            let mut harmful = false;
            for (o, was) in before.iter().enumerate().filter(|&(o, _)| o != z) {
                let Some(now_o) = wait(&f, o, now) else { continue };
                others = others.max(now_o);
                harmful |= now_o > target && now_o > was.unwrap_or(0);
            }
            if harmful || after >= b || best.is_some_and(|x| x.wait_after_ms <= after) {
                continue;
            }
            best = Some(Advice {
                action,
                zone,
                window,
                wait_before_ms: b,
                wait_after_ms: after,
                others_after_ms: others,
            });
        }
        best
    }
}
