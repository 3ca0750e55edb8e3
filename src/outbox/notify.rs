//! Citizens' notices in the outbox: made from the events with the hall's
//! facts of the moment (people ahead, expected wait), sent with the
//! citizen's contact looked up and opened only when sending. A message, as
//! kept and as set aside, names the contact by reference only.

use std::collections::BTreeMap;

use super::Shared;
use super::deliver::Failure;
use super::message::{Message, Sink, key};
use crate::config::HallConfig;
use crate::engine::{Event, EventKind, HallId};
use crate::notices::{NoticeBody, NoticeKind, SmsConfig, sms};

/// The notices `ev` makes, read against the hall as it is now.
pub(super) fn make(shared: &Shared, hall: HallId, cfg: &HallConfig, ev: &Event) -> Vec<Message> {
    let Some(n) = &cfg.outbound.notices else {
        return Vec::new();
    };
    let (kind, ticket, window, ahead) = match &ev.kind {
        EventKind::TicketIssued {
            ticket,
            notice: Some(_),
            ..
        } => (NoticeKind::Issued, *ticket, None, None),
        EventKind::TicketNearing { ticket, ahead } => (NoticeKind::Near, *ticket, None, Some(*ahead)),
        EventKind::TicketCalled { ticket, window, .. } => (NoticeKind::Called, *ticket, Some(*window), None),
        _ => return Vec::new(),
    };
    if !n.sends(kind) {
        return Vec::new();
    }
    let now = (shared.clock)();
    let facts = shared.halls.lock(hall).ok().and_then(|h| {
        let contact = h.notice_ref(ticket)?;
        let view = h.ticket_view(ticket, now)?;
        let day = h.business_day()?;
        Some((contact, view, day))
    });
    let Some((contact, view, day)) = facts else {
        return Vec::new();
    };
    let waiting = view.state == crate::engine::TicketState::Waiting;
    match kind {
        // Read late (after a restart) and called meanwhile: the call's
        // notice says what matters.
        NoticeKind::Issued | NoticeKind::Near if !waiting => return Vec::new(),
        _ => {}
    }
    let spec = &cfg.spec;
    let mut values = BTreeMap::new();
    values.insert("number".to_owned(), ticket.to_string());
    values.insert("hall".to_owned(), spec.name.clone());
    if let Some(z) = spec.zone_index(view.zone) {
        values.insert("zone".to_owned(), spec.zones[z].name.clone());
    }
    let ahead = ahead.unwrap_or(view.people_ahead as u32);
    values.insert("ahead".to_owned(), ahead.to_string());
    let wait_min = (view.estimated_wait_ms.max(0) + 59_999) / 60_000;
    values.insert("wait".to_owned(), wait_min.to_string());
    if let Some(w) = window {
        values.insert("window".to_owned(), w.to_string());
        if let Some(i) = spec.window_index(w) {
            values.insert("window_name".to_owned(), spec.windows[i].name.clone());
        }
    }
    if let Some(base) = &shared.public_url {
        let token = shared.keys.ticket_token(hall, day, ticket);
        values.insert("link".to_owned(), format!("{}/t/{token}", base.trim_end_matches('/')));
    }
    let body = NoticeBody {
        notice: kind,
        hall: hall.to_string(),
        day,
        contact,
        values,
    };
    let Ok(text) = serde_json::to_string(&body) else {
        return Vec::new();
    };
    let mut sinks = Vec::new();
    if n.sms.is_some() {
        sinks.push(Sink::Sms);
    }
    if n.wechat.as_ref().is_some_and(|w| w.templates.contains_key(&kind)) {
        sinks.push(Sink::WeChat);
    }
    if n.webhook.is_some() {
        sinks.push(Sink::NoticeHook);
    }
    sinks
        .into_iter()
        .map(|sink| Message {
            key: key(hall, ev, &sink),
            sink,
            seq: ev.seq,
            kind: format!("notice:{}", kind.name()),
            body: text.clone(),
        })
        .collect()
}

/// The citizen's contact for a notice: looked up, opened. A contact gone
/// (the day is over) or that does not open is a refusal: trying again
/// would not bring it back.
async fn contact(
    shared: &Shared,
    hall: HallId,
    msg: &Message,
) -> Result<(NoticeBody, crate::notices::Contact), Failure> {
    let body: NoticeBody =
        serde_json::from_str(&msg.body).map_err(|e| Failure::Refused(format!("not a notice: {e}")))?;
    let kit = shared
        .notices
        .as_ref()
        .ok_or_else(|| Failure::Refused("this server has no notice key (--notice-key-file)".into()))?;
    let sealed = kit
        .contacts
        .get(hall, body.day, body.contact)
        .await
        .map_err(|e| Failure::Passing(e.to_string(), None))?
        .ok_or_else(|| Failure::Refused("the citizen's contact is no longer kept (erased with its day)".into()))?;
    let c = kit
        .sealer
        .open(hall, body.day, body.contact, &sealed)
        .map_err(Failure::Refused)?;
    Ok((body, c))
}

/// Texts the citizen through the hall's SMS provider; nothing to do when
/// they gave no phone number.
pub(super) async fn text(shared: &Shared, hall: HallId, cfg: &SmsConfig, msg: &Message) -> Result<(), Failure> {
    let (body, c) = contact(shared, hall, msg).await?;
    let Some(phone) = c.phone else { return Ok(()) };
    let (template, names) = cfg
        .templates
        .get(&body.notice)
        .ok_or_else(|| Failure::Refused(format!("no SMS template for the {} notice", body.notice.name())))?;
    let text = sms::Text {
        phone,
        sign_name: cfg.sign_name.clone(),
        template: template.clone(),
        params: names
            .iter()
            .map(|n| (n.clone(), body.values.get(n).cloned().unwrap_or_default()))
            .collect(),
        out_id: msg.key.clone(),
    };
    let secret = std::fs::read_to_string(&cfg.secret_file)
        .map_err(|e| Failure::Passing(format!("cannot read {}: {e}", cfg.secret_file.display()), None))?;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| Failure::Passing(e.to_string(), None))?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let req = sms::request(
        &cfg.provider,
        &cfg.endpoint,
        (&cfg.access_key_id, secret.trim()),
        &text,
        jiff::Timestamp::now().as_second(),
        &nonce,
    );
    let mut http = shared.client.post(&req.url).body(req.body);
    for (k, v) in &req.headers {
        http = http.header(k, v);
    }
    let resp = http
        .send()
        .await
        .map_err(|e| Failure::Passing(super::with_causes(&e), None))?;
    let status = resp.status().as_u16();
    let said = resp.text().await.unwrap_or_default();
    match sms::answer(&cfg.provider, status, &said) {
        sms::Answer::Sent => Ok(()),
        sms::Answer::Later(e) => Err(Failure::Passing(e, None)),
        sms::Answer::Refused(e) => Err(Failure::Refused(e)),
    }
}

/// The notice as a hall's own system receives it: with the contact.
pub(super) async fn with_contact(shared: &Shared, hall: HallId, msg: &Message) -> Result<String, Failure> {
    let (body, c) = contact(shared, hall, msg).await?;
    let mut v = serde_json::to_value(&body).map_err(|e| Failure::Refused(e.to_string()))?;
    v["id"] = serde_json::Value::String(msg.key.clone());
    v["phone"] = c.phone.map_or(serde_json::Value::Null, serde_json::Value::String);
    v["wechat_openid"] = c.wechat.map_or(serde_json::Value::Null, serde_json::Value::String);
    Ok(v.to_string())
}

/// Sends the citizen a WeChat subscription message; nothing to do when
/// they gave no openid. A token WeChat no longer takes is fetched again
/// once, and the message sent again with it.
pub(super) async fn wechat(
    shared: &Shared,
    hall: HallId,
    cfg: &crate::notices::wechat::WeChatConfig,
    msg: &Message,
) -> Result<(), Failure> {
    use crate::notices::wechat;
    let (body, c) = contact(shared, hall, msg).await?;
    let Some(openid) = c.wechat else { return Ok(()) };
    let m = wechat::message(cfg, body.notice, &openid, &body.values)
        .ok_or_else(|| Failure::Refused(format!("no WeChat template for the {} notice", body.notice.name())))?;
    let mut fresh = false;
    loop {
        let token = shared
            .wechat_tokens
            .get(&shared.client, cfg, fresh)
            .await
            .map_err(|(e, again)| {
                if again {
                    Failure::Passing(e, None)
                } else {
                    Failure::Refused(e)
                }
            })?;
        let resp = shared
            .client
            .post(wechat::send_url(cfg, &token))
            .header("content-type", "application/json")
            .body(m.to_string())
            .send()
            .await
            .map_err(|e| Failure::Passing(super::with_causes(&e), None))?;
        let said = resp.text().await.unwrap_or_default();
        match wechat::answer(&said) {
            wechat::Answer::Sent => return Ok(()),
            wechat::Answer::NewToken if !fresh => fresh = true,
            wechat::Answer::NewToken => return Err(Failure::Passing("WeChat refused a new token too".into(), None)),
            wechat::Answer::Later(e) => return Err(Failure::Passing(e, None)),
            wechat::Answer::Refused(e) => return Err(Failure::Refused(e)),
        }
    }
}
