//! 好差评: a citizen's rating of a finished service, and the follow-up of a
//! bad one (GB/T 39734-2020: verified, rectified, the citizen called back).

use serde::{Deserialize, Serialize};

use super::ids::{Millis, WindowNo};

/// The five levels, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    Basic,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

impl Rating {
    /// 不满意 and 非常不满意 are bad ratings: each needs a follow-up.
    pub fn is_bad(self) -> bool {
        matches!(self, Rating::Dissatisfied | Rating::VeryDissatisfied)
    }
}

/// A step of a bad rating's follow-up, each recorded once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpStep {
    /// The complaint was looked into (核实).
    Verified,
    /// What was wrong was put right (整改).
    Rectified,
    /// The citizen was called back (回访).
    CalledBack,
}

/// Comments longer than this are refused.
pub const MAX_COMMENT: usize = 500;

/// A rating as kept with its ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingRecord {
    pub level: Rating,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The window that served, and who staffed it.
    pub window: WindowNo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    pub at: Millis,
}

/// One recorded follow-up step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub step: FollowUpStep,
    pub note: String,
    pub at: Millis,
}
