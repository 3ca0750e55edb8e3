//! A window's (窗口) live state.

use serde::{Deserialize, Serialize};

use super::ids::Millis;

/// The longest pause staff may announce (预计恢复): a working day.
pub const MAX_PAUSE_MINUTES: u16 = 480;

/// Why a window stopped calling (暂停服务).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// Staff signed in and have not started yet.
    SignedIn,
    Lunch,
    Break,
    Meeting,
    Training,
    Fault,
    Other,
}

impl PauseReason {
    pub const ALL: [PauseReason; 7] = [
        PauseReason::SignedIn,
        PauseReason::Lunch,
        PauseReason::Break,
        PauseReason::Meeting,
        PauseReason::Training,
        PauseReason::Fault,
        PauseReason::Other,
    ];

    /// The reason's name as the event format spells it (`"signed_in"`).
    pub fn name(&self) -> &'static str {
        match self {
            PauseReason::SignedIn => "signed_in",
            PauseReason::Lunch => "lunch",
            PauseReason::Break => "break",
            PauseReason::Meeting => "meeting",
            PauseReason::Training => "training",
            PauseReason::Fault => "fault",
            PauseReason::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowState {
    pub open: bool,
    pub staff: Option<String>,
    pub paused: Option<(PauseReason, Millis)>,
    /// When a pause is expected to end, if staff said.
    pub resumes_at: Option<Millis>,
    /// Index of the ticket in hand (called or being served).
    pub current: Option<usize>,
    pub auto_call: bool,
    pub opened_at: Option<Millis>,
    pub served_today: u32,
    /// 潮汐窗口: a zone (by index) put first in its order for the day.
    pub first_zone: Option<usize>,
}

impl WindowState {
    pub(crate) fn closed() -> WindowState {
        WindowState {
            open: false,
            staff: None,
            paused: None,
            resumes_at: None,
            current: None,
            auto_call: false,
            opened_at: None,
            served_today: 0,
            first_zone: None,
        }
    }

    /// Open, not paused and with nobody in hand: may be handed a ticket.
    pub fn is_free(&self) -> bool {
        self.open && self.paused.is_none() && self.current.is_none()
    }
}
