//! Telling citizens of their turn (短信提示, 服务通知): after taking a
//! ticket, when few are ahead, and when called. The engine decides when
//! (`TicketNearing`); the outbox makes the notices from the durable event
//! stream and sends them:
//!
//! - `contacts`: the citizen's phone number or openid, sealed, kept apart
//!   from the log and erased when the day is over;
//! - `sms`: Alibaba Cloud and Tencent Cloud SMS, signed as each documents.

pub mod contacts;
pub mod sms;
pub mod wechat;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use contacts::{Contact, Contacts, Sealer, mobile};

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The ticket was taken: number, people ahead, expected wait, link.
    Issued,
    /// `policy.notice_ahead` or fewer are ahead now.
    Near,
    /// Called: number and window.
    Called,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 3] = [NoticeKind::Issued, NoticeKind::Near, NoticeKind::Called];

    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::Issued => "issued",
            NoticeKind::Near => "near",
            NoticeKind::Called => "called",
        }
    }
}

/// The values a template may name.
pub const PARAMS: &[&str] = &[
    "number",
    "ahead",
    "wait",
    "window",
    "window_name",
    "zone",
    "hall",
    "link",
];

/// `[hall.notices]`: which notices a hall sends and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notices {
    pub send: Vec<NoticeKind>,
    pub sms: Option<SmsConfig>,
    pub wechat: Option<wechat::WeChatConfig>,
    /// `[hall.notices.webhook]`: each notice, with the citizen's contact,
    /// to a system of the hall's own (signed as the other webhooks).
    pub webhook: Option<(String, PathBuf)>,
    /// A notice not sent within this is set aside: later it means nothing.
    pub retry_for: Duration,
}

impl Notices {
    pub fn sends(&self, kind: NoticeKind) -> bool {
        self.send.contains(&kind)
    }
}

/// `[hall.notices.sms]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    pub provider: sms::Provider,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_file: PathBuf,
    /// The approved signature (签名) the texts go out under.
    pub sign_name: String,
    /// Per notice: the approved template's code and the values it takes,
    /// in its order.
    pub templates: BTreeMap<NoticeKind, (String, Vec<String>)>,
}

/// What a notice says, kept in the outbox without the citizen's contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBody {
    pub notice: NoticeKind,
    pub hall: String,
    /// The ticket's business day (where its contact is kept).
    pub day: jiff::civil::Date,
    /// The contact reference.
    #[serde(rename = "ref")]
    pub contact: crate::engine::NoticeRef,
    /// Values for the template: number, ahead, wait, window, ….
    pub values: BTreeMap<String, String>,
}

/// What sending notices needs beside the configuration.
#[derive(Clone)]
pub struct Kit {
    pub contacts: Contacts,
    pub sealer: Sealer,
}

impl std::fmt::Debug for Kit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kit(..)")
    }
}
