//! Where a hall's events go beyond its own screens (see `outbox`):
//! `[[hall.webhook]]` for integrators and `[hall.platform]` for the
//! government service platform. Secrets are named by file, never written
//! in the configuration: its versions are kept in the store and archive.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::file::S;
use super::validate::Checker;

/// The event types a webhook may subscribe to: those staff receive.
pub const EVENT_TYPES: &[&str] = &[
    "DayStarted",
    "ConfigChanged",
    "TicketIssued",
    "TicketCalled",
    "TicketRecalled",
    "TicketSkipped",
    "ServiceStarted",
    "ServiceFinished",
    "TicketTransferred",
    "TicketHeld",
    "TicketCancelled",
    "TicketReactivated",
    "WindowOpened",
    "WindowClosed",
    "WindowPaused",
    "WindowResumed",
    "AutoCallChanged",
    "WindowServesFirst",
    "TicketRated",
    "FollowUpRecorded",
    "AlertRaised",
    "AlertAcknowledged",
    "AlertCleared",
];

/// How long a message is retried by default before it is set aside.
pub const DEFAULT_RETRY_HOURS: i64 = 24;

/// A hall's outside receivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbound {
    pub webhooks: Vec<Webhook>,
    pub platform: Option<Platform>,
    /// `[hall.notices]`: telling citizens of their turn.
    pub notices: Option<crate::notices::Notices>,
}

/// `[[hall.webhook]]`: the hall's events of some types, each POSTed to
/// `url` and signed with the secret in `secret_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Names the webhook in messages' keys and on the supervisor board.
    pub name: String,
    pub url: String,
    pub secret_file: PathBuf,
    /// Event types (see [`EVENT_TYPES`]); every one when empty (`"*"`).
    pub events: Vec<String>,
    pub retry_for: Duration,
}

impl Webhook {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

/// `[hall.platform]`: each finished visit and each rating (好差评) with its
/// follow-ups, sent to the online government service platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub url: String,
    pub secret_file: PathBuf,
    /// The platform's code for this hall (its 服务大厅编码).
    pub hall_code: String,
    pub retry_for: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookFile {
    pub name: S<String>,
    pub url: S<String>,
    pub secret_file: S<String>,
    #[serde(default)]
    pub events: Option<S<Vec<String>>>,
    #[serde(default)]
    pub retry_hours: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoticesFile {
    pub send: Option<S<Vec<String>>>,
    pub retry_minutes: Option<S<i64>>,
    pub sms: Option<SmsFile>,
    pub wechat: Option<WeChatFile>,
    pub webhook: Option<NoticeHookFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeChatFile {
    pub app_id: S<String>,
    pub secret_file: S<String>,
    /// `miniprogram` (the default) or `official_account`.
    pub kind: Option<S<String>>,
    pub api: Option<S<String>>,
    pub page: Option<S<String>>,
    pub issued: Option<WeChatTemplateFile>,
    pub near: Option<WeChatTemplateFile>,
    pub called: Option<WeChatTemplateFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeChatTemplateFile {
    pub template: S<String>,
    /// Per data key (`thing1`), the value it shows (`zone`).
    pub data: S<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoticeHookFile {
    pub url: S<String>,
    pub secret_file: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SmsFile {
    pub provider: S<String>,
    pub endpoint: Option<S<String>>,
    pub access_key_id: S<String>,
    pub secret_file: S<String>,
    pub sign_name: S<String>,
    pub sdk_app_id: Option<S<String>>,
    pub region: Option<S<String>>,
    pub issued: Option<TemplateFile>,
    pub near: Option<TemplateFile>,
    pub called: Option<TemplateFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateFile {
    pub template: S<String>,
    #[serde(default)]
    pub params: Option<S<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformFile {
    pub url: S<String>,
    pub secret_file: S<String>,
    pub hall_code: S<String>,
    #[serde(default)]
    pub retry_hours: Option<S<i64>>,
}

fn url(c: &mut Checker, u: &S<String>, place: &str) -> String {
    let v = u.get_ref().trim();
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.len() <= 2000
        && reqwest::Url::parse(v).is_ok_and(|p| p.host_str().is_some());
    if !ok {
        c.err(u.span(), place, "url must be an http:// or https:// address");
    }
    v.to_owned()
}

fn secret_file(c: &mut Checker, f: &S<String>, place: &str) -> PathBuf {
    let v = f.get_ref().trim();
    if !v.starts_with('/') {
        c.err(
            f.span(),
            place,
            "secret_file must be an absolute path (a file kept outside the configuration)",
        );
    }
    PathBuf::from(v)
}

pub(crate) fn outbound(
    c: &mut Checker,
    (webhooks, platform, notices): (&[WebhookFile], Option<&PlatformFile>, Option<&NoticesFile>),
    place: &str,
) -> Outbound {
    let mut out = Outbound {
        notices: notices.map(|n| notices_of(c, n, place)),
        ..Outbound::default()
    };
    for w in webhooks {
        let name = w.name.get_ref().trim().to_owned();
        let place = &format!("{place}, webhook {name:?}");
        let good_name = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !good_name {
            c.err(
                w.name.span(),
                place,
                "a webhook's name is 1 to 32 letters, digits, - or _",
            );
        } else if out.webhooks.iter().any(|o: &Webhook| o.name == name) {
            c.err(w.name.span(), place, "two webhooks have this name");
        }
        let mut events = Vec::new();
        if let Some(list) = &w.events {
            for e in list.get_ref() {
                if e == "*" {
                    events.clear();
                    break;
                }
                if !EVENT_TYPES.contains(&e.as_str()) {
                    c.err(
                        list.span(),
                        place,
                        format!("unknown event type {e:?} (one of {}, or \"*\")", EVENT_TYPES.join(", ")),
                    );
                } else if !events.contains(e) {
                    events.push(e.clone());
                }
            }
        }
        out.webhooks.push(Webhook {
            url: url(c, &w.url, place),
            secret_file: secret_file(c, &w.secret_file, place),
            events,
            retry_for: hours(c, w.retry_hours.as_ref(), place),
            name,
        });
    }
    if let Some(p) = platform {
        let place = &format!("{place}, platform");
        let code = p.hall_code.get_ref().trim().to_owned();
        if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
            c.err(p.hall_code.span(), place, "hall_code is 1 to 64 characters");
        }
        out.platform = Some(Platform {
            url: url(c, &p.url, place),
            secret_file: secret_file(c, &p.secret_file, place),
            hall_code: code,
            retry_for: hours(c, p.retry_hours.as_ref(), place),
        });
    }
    out
}

fn hours(c: &mut Checker, v: Option<&S<i64>>, place: &str) -> Duration {
    let h = match v {
        None => DEFAULT_RETRY_HOURS,
        Some(s) if (1..=168).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            c.err(s.span(), place, "retry_hours must be from 1 to 168");
            DEFAULT_RETRY_HOURS
        }
    };
    Duration::from_secs(h as u64 * 3600)
}

fn text(c: &mut Checker, s: &S<String>, place: &str, what: &str, max: usize) -> String {
    let v = s.get_ref().trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        c.err(s.span(), place, format!("{what} is 1 to {max} characters"));
    }
    v.to_owned()
}

fn notices_of(c: &mut Checker, n: &NoticesFile, place: &str) -> crate::notices::Notices {
    use crate::notices::{NoticeKind, PARAMS, SmsConfig, sms::Provider};
    let place = &format!("{place}, notices");
    let send = match &n.send {
        None => NoticeKind::ALL.to_vec(),
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list.get_ref() {
                match NoticeKind::ALL.into_iter().find(|x| x.name() == k) {
                    Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                    Some(_) => {}
                    None => c.err(
                        list.span(),
                        place,
                        format!("unknown notice {k:?} (issued, near or called)"),
                    ),
                }
            }
            kinds
        }
    };
    let retry_minutes = match &n.retry_minutes {
        None => 30,
        Some(s) if (1..=720).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            c.err(s.span(), place, "retry_minutes must be from 1 to 720");
            30
        }
    };
    let sms = n.sms.as_ref().map(|s| {
        let place = &format!("{place}, sms");
        let provider = match s.provider.get_ref().as_str() {
            "aliyun" => Provider::Aliyun,
            "tencent" => {
                let sdk_app_id = match &s.sdk_app_id {
                    Some(v) => text(c, v, place, "sdk_app_id", 32),
                    None => {
                        c.err(
                            s.provider.span(),
                            place,
                            "Tencent Cloud SMS needs sdk_app_id (SmsSdkAppId)",
                        );
                        String::new()
                    }
                };
                let region = s
                    .region
                    .as_ref()
                    .map_or_else(|| "ap-guangzhou".to_owned(), |r| text(c, r, place, "region", 32));
                Provider::Tencent { sdk_app_id, region }
            }
            other => {
                c.err(
                    s.provider.span(),
                    place,
                    format!("unknown SMS provider {other:?} (aliyun or tencent)"),
                );
                Provider::Aliyun
            }
        };
        let endpoint = match &s.endpoint {
            Some(e) => url(c, e, place),
            None => match provider {
                Provider::Aliyun => "https://dysmsapi.aliyuncs.com".to_owned(),
                Provider::Tencent { .. } => "https://sms.tencentcloudapi.com".to_owned(),
            },
        };
        let mut templates = std::collections::BTreeMap::new();
        for (kind, t) in [
            (NoticeKind::Issued, &s.issued),
            (NoticeKind::Near, &s.near),
            (NoticeKind::Called, &s.called),
        ] {
            let Some(t) = t else {
                if send.contains(&kind) {
                    c.err(
                        s.provider.span(),
                        place,
                        format!(
                            "no template for the {} notice ({} = {{ template = \"…\", params = […] }})",
                            kind.name(),
                            kind.name()
                        ),
                    );
                }
                continue;
            };
            let code = text(c, &t.template, place, "a template code", 64);
            let mut params = Vec::new();
            if let Some(list) = &t.params {
                for p in list.get_ref() {
                    if PARAMS.contains(&p.as_str()) {
                        params.push(p.clone());
                    } else {
                        c.err(
                            list.span(),
                            place,
                            format!("unknown template value {p:?} (one of {})", PARAMS.join(", ")),
                        );
                    }
                }
            }
            templates.insert(kind, (code, params));
        }
        SmsConfig {
            endpoint,
            access_key_id: text(c, &s.access_key_id, place, "access_key_id", 128),
            secret_file: secret_file(c, &s.secret_file, place),
            sign_name: text(c, &s.sign_name, place, "sign_name", 32),
            templates,
            provider,
        }
    });
    let wechat = n.wechat.as_ref().map(|w| {
        let place = &format!("{place}, wechat");
        let official_account = match w.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("miniprogram") => false,
            Some("official_account") => true,
            Some(other) => {
                if let Some(k) = &w.kind {
                    c.err(
                        k.span(),
                        place,
                        format!("unknown kind {other:?} (miniprogram or official_account)"),
                    );
                }
                false
            }
        };
        let mut templates = std::collections::BTreeMap::new();
        for (kind, t) in [
            (NoticeKind::Issued, &w.issued),
            (NoticeKind::Near, &w.near),
            (NoticeKind::Called, &w.called),
        ] {
            let Some(t) = t else { continue };
            let id = text(c, &t.template, place, "a template id", 64);
            let mut data = std::collections::BTreeMap::new();
            for (k, v) in t.data.get_ref() {
                let key_ok =
                    !k.is_empty() && k.len() <= 32 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !key_ok || !PARAMS.contains(&v.as_str()) {
                    c.err(
                        t.data.span(),
                        place,
                        format!(
                            "data {k:?} = {v:?}: a WeChat data key (thing1) and one of {}",
                            PARAMS.join(", ")
                        ),
                    );
                } else {
                    data.insert(k.clone(), v.clone());
                }
            }
            templates.insert(kind, (id, data));
        }
        crate::notices::wechat::WeChatConfig {
            api: w
                .api
                .as_ref()
                .map_or_else(|| "https://api.weixin.qq.com".to_owned(), |a| url(c, a, place)),
            app_id: text(c, &w.app_id, place, "app_id", 64),
            secret_file: secret_file(c, &w.secret_file, place),
            official_account,
            page: w
                .page
                .as_ref()
                .map(|p| text(c, p, place, "page", 500))
                .unwrap_or_default(),
            templates,
        }
    });
    let webhook = n.webhook.as_ref().map(|w| {
        let place = &format!("{place}, webhook");
        (url(c, &w.url, place), secret_file(c, &w.secret_file, place))
    });
    crate::notices::Notices {
        send,
        sms,
        wechat,
        webhook,
        retry_for: Duration::from_secs(retry_minutes as u64 * 60),
    }
}

/// `[[hall.printer]]`: a network thermal printer a desk or kiosk prints on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrinterFile {
    pub name: S<String>,
    pub address: S<String>,
    pub accounts: S<Vec<String>>,
    /// `partial` (the default) or `full`.
    pub cut: Option<S<String>>,
    pub footer: Option<S<String>>,
}

pub(crate) fn printers(
    c: &mut Checker,
    list: &[PrinterFile],
    accounts: &[super::Account],
    place: &str,
) -> Vec<crate::print::PrinterConfig> {
    let mut out: Vec<crate::print::PrinterConfig> = Vec::new();
    for p in list {
        let name = p.name.get_ref().trim().to_owned();
        let place = &format!("{place}, printer {name:?}");
        let good = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !good {
            c.err(
                p.name.span(),
                place,
                "a printer's name is 1 to 32 letters, digits, - or _",
            );
        } else if out.iter().any(|o| o.name == name) {
            c.err(p.name.span(), place, "two printers have this name");
        }
        let address = p.address.get_ref().trim().to_owned();
        let port_ok = match address.rsplit_once(':') {
            Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
            None => !address.is_empty(),
        };
        if !port_ok || address.len() > 255 || address.contains('/') {
            c.err(
                p.address.span(),
                place,
                "address is HOST or HOST:PORT (raw TCP, 9100 by default)",
            );
        }
        for a in p.accounts.get_ref() {
            if out.iter().any(|o| o.accounts.contains(a)) {
                c.err(
                    p.accounts.span(),
                    place,
                    format!("account {a:?} already prints on another printer"),
                );
            }
            match accounts.iter().find(|x| &x.user == a) {
                None => c.err(p.accounts.span(), place, format!("no account {a:?} in this hall")),
                Some(x)
                    if !matches!(
                        x.role,
                        super::Role::Guide | super::Role::Kiosk | super::Role::Supervisor | super::Role::Admin
                    ) =>
                {
                    c.err(
                        p.accounts.span(),
                        place,
                        format!("account {a:?} does not issue tickets (guide, kiosk or supervisor accounts do)"),
                    )
                }
                Some(_) => {}
            }
        }
        let cut_partial = match p.cut.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("partial") => true,
            Some("full") => false,
            Some(other) => {
                if let Some(s) = &p.cut {
                    c.err(s.span(), place, format!("cut is partial or full, not {other:?}"));
                }
                true
            }
        };
        let footer = p
            .footer
            .as_ref()
            .map(|f| text(c, f, place, "footer", 40))
            .unwrap_or_default();
        out.push(crate::print::PrinterConfig {
            name,
            address,
            accounts: p.accounts.get_ref().clone(),
            cut_partial,
            footer,
        });
    }
    out
}
