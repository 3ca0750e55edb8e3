//! WeChat subscription messages (订阅消息, 服务通知) to citizens who took
//! their ticket in the hall's mini-program or official account, as WeChat
//! documents them:
//!
//! - an access token from `POST /cgi-bin/stable_token` (the stable token:
//!   one per app whoever asks, valid `expires_in` seconds), kept and
//!   fetched again five minutes before it runs out, or at once when WeChat
//!   says it is no longer good (errcode 40001, 40014, 42001);
//! - the message by `POST /cgi-bin/message/subscribe/send` (mini-program)
//!   or `…/subscribe/bizsend` (official account), its values fitted to
//!   each data type's limits (`thing` at most 20 characters, …).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::NoticeKind;

/// `[hall.notices.wechat]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeChatConfig {
    /// `https://api.weixin.qq.com`, or a stand-in's address.
    pub api: String,
    pub app_id: String,
    /// Holds the AppSecret.
    pub secret_file: std::path::PathBuf,
    /// A mini-program (`subscribe/send`) or an official account
    /// (`subscribe/bizsend`).
    pub official_account: bool,
    /// The mini-program page (or official account link) a message opens.
    pub page: String,
    /// Per notice: the template id and, per data key (`thing1`,
    /// `character_string2`, …), the value it shows (`number`, `zone`, …).
    pub templates: BTreeMap<NoticeKind, (String, BTreeMap<String, String>)>,
}

/// Fits a value to what WeChat accepts for its data key's type (the key's
/// letters: `thing12` is a `thing`).
pub fn fit(key: &str, value: &str) -> String {
    let kind: String = key.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let cut = |n: usize| value.chars().filter(|c| !c.is_control()).take(n).collect::<String>();
    match kind.as_str() {
        "thing" => cut(20),
        "character_string" | "letter" | "number" => cut(32),
        "phrase" => cut(5),
        "name" => cut(10),
        "phone_number" => cut(17),
        "car_number" => cut(8),
        "symbol" => cut(5),
        _ => cut(20),
    }
}

/// The message's body.
pub fn message(cfg: &WeChatConfig, kind: NoticeKind, openid: &str, values: &BTreeMap<String, String>) -> Option<Value> {
    let (template, keys) = cfg.templates.get(&kind)?;
    let data: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(k, name)| {
            let v = values.get(name).map_or("", String::as_str);
            (k.clone(), json!({ "value": fit(k, v) }))
        })
        .collect();
    let mut body = json!({
        "touser": openid,
        "template_id": template,
        "data": data,
        "lang": "zh_CN",
    });
    if !cfg.page.is_empty() {
        body["page"] = Value::String(cfg.page.clone());
    }
    if !cfg.official_account {
        body["miniprogram_state"] = Value::String("formal".into());
    }
    Some(body)
}

/// What WeChat's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent,
    /// The token is no longer good: fetch another and send again.
    NewToken,
    Later(String),
    Refused(String),
}

pub fn answer(body: &str) -> Answer {
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    let code = v["errcode"].as_i64().unwrap_or(0);
    let msg = v["errmsg"].as_str().unwrap_or_default();
    match code {
        0 if v.is_object() => Answer::Sent,
        0 => Answer::Later(format!(
            "not a WeChat answer: {}",
            body.chars().take(100).collect::<String>()
        )),
        40001 | 40014 | 42001 => Answer::NewToken,
        // System busy; frequency limits.
        -1 | 45009 | 45011 | 45047 => Answer::Later(format!("{code}: {msg}")),
        // 43101: the citizen refused, or their one-time subscription is used.
        _ => Answer::Refused(format!("{code}: {msg}")),
    }
}

/// Access tokens, one per (api, app), shared by every hall that uses it.
#[derive(Debug, Default)]
pub struct Tokens {
    kept: Mutex<HashMap<(String, String), (String, Instant)>>,
}

/// Fetched again this long before it runs out.
const EARLY: Duration = Duration::from_secs(300);

impl Tokens {
    /// A token good for a while yet, fetched if need be.
    ///
    /// # Errors
    /// WeChat cannot be reached or refuses the app's credentials: the
    /// message waits (`true` in the error: worth trying again).
    pub async fn get(
        &self,
        client: &reqwest::Client,
        cfg: &WeChatConfig,
        fresh: bool,
    ) -> Result<String, (String, bool)> {
        let key = (cfg.api.clone(), cfg.app_id.clone());
        if !fresh
            && let Some((t, until)) = self.kept.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
            && Instant::now() + EARLY < *until
        {
            return Ok(t.clone());
        }
        let secret = std::fs::read_to_string(&cfg.secret_file)
            .map_err(|e| (format!("cannot read {}: {e}", cfg.secret_file.display()), true))?;
        let url = format!("{}/cgi-bin/stable_token", cfg.api.trim_end_matches('/'));
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .body(
                json!({
                    "grant_type": "client_credential",
                    "appid": cfg.app_id,
                    "secret": secret.trim(),
                    "force_refresh": false,
                })
                .to_string(),
            )
            .send()
            .await
            .map_err(|e| (format!("access token: {e}"), true))?;
        let text = resp.text().await.map_err(|e| (format!("access token: {e}"), true))?;
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        let (Some(token), Some(expires)) = (v["access_token"].as_str(), v["expires_in"].as_u64()) else {
            let code = v["errcode"].as_i64().unwrap_or(0);
            let busy = code == -1;
            return Err((
                format!("access token refused: {code} {}", v["errmsg"].as_str().unwrap_or("")),
                busy,
            ));
        };
        let until = Instant::now() + Duration::from_secs(expires);
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (token.to_owned(), until));
        Ok(token.to_owned())
    }
}

/// The send address for a token.
pub fn send_url(cfg: &WeChatConfig, token: &str) -> String {
    let path = if cfg.official_account { "bizsend" } else { "send" };
    format!(
        "{}/cgi-bin/message/subscribe/{path}?access_token={token}",
        cfg.api.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fit_each_data_type() {
        assert_eq!(fit("thing1", &"综".repeat(30)).chars().count(), 20);
        assert_eq!(fit("phrase3", "正在办理中请稍候"), "正在办理中");
        assert_eq!(fit("character_string2", "A023"), "A023");
        assert_eq!(fit("thing4", "a\nb"), "ab");
    }

    #[test]
    fn a_message_names_its_template_and_fills_its_keys() {
        let cfg = WeChatConfig {
            api: "http://x".into(),
            app_id: "wx1".into(),
            secret_file: "/dev/null".into(),
            official_account: false,
            page: "pages/ticket/ticket".into(),
            templates: BTreeMap::from([(
                NoticeKind::Called,
                (
                    "T1".into(),
                    BTreeMap::from([
                        ("character_string1".into(), "number".into()),
                        ("thing2".into(), "window_name".into()),
                    ]),
                ),
            )]),
        };
        let values = BTreeMap::from([
            ("number".to_owned(), "A023".to_owned()),
            ("window_name".to_owned(), "综合受理".to_owned()),
        ]);
        let m = message(&cfg, NoticeKind::Called, "oABC", &values).unwrap();
        assert_eq!(m["touser"], "oABC");
        assert_eq!(m["template_id"], "T1");
        assert_eq!(m["data"]["character_string1"]["value"], "A023");
        assert_eq!(m["miniprogram_state"], "formal");
        assert!(message(&cfg, NoticeKind::Issued, "oABC", &values).is_none());
        assert!(send_url(&cfg, "TOK").ends_with("/cgi-bin/message/subscribe/send?access_token=TOK"));
    }

    #[test]
    fn answers_say_when_to_fetch_a_new_token() {
        assert_eq!(answer(r#"{"errcode":0,"errmsg":"ok"}"#), Answer::Sent);
        assert_eq!(
            answer(r#"{"errcode":42001,"errmsg":"access_token expired"}"#),
            Answer::NewToken
        );
        assert_eq!(
            answer(r#"{"errcode":40001,"errmsg":"invalid credential"}"#),
            Answer::NewToken
        );
        assert!(matches!(
            answer(r#"{"errcode":43101,"errmsg":"user refuse to accept the msg"}"#),
            Answer::Refused(_)
        ));
        assert!(matches!(
            answer(r#"{"errcode":-1,"errmsg":"system error"}"#),
            Answer::Later(_)
        ));
    }
}
