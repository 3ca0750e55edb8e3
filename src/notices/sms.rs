//! Sending a text through the SMS services Chinese halls use, each signed
//! as its provider documents:
//!
//! - Alibaba Cloud SMS (`dysmsapi`, `SendSms` 2017-05-25), signature V3
//!   `ACS3-HMAC-SHA256`: the parameters in the query string, an empty body;
//! - Tencent Cloud SMS (`sms`, `SendSms` 2021-01-11), `TC3-HMAC-SHA256`:
//!   a JSON body.
//!
//! Each answers HTTP 200 with its own error inside, so success is read
//! from the body (`Code: "OK"`; `SendStatusSet[].Code: "Ok"`).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Which provider, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Aliyun,
    Tencent { sdk_app_id: String, region: String },
}

/// One text to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub phone: String,
    pub sign_name: String,
    pub template: String,
    /// Named parameters, in the template's order.
    pub params: Vec<(String, String)>,
    /// Echoed back by the provider: the message's idempotency key.
    pub out_id: String,
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 percent-encoding as Alibaba's V3 canonical query wants it:
/// only `A-Z a-z 0-9 - _ . ~` left as they are, upper-case hex.
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Alibaba's V3 signature of a request: its `Authorization` header.
/// `headers` are the lower-case `x-acs-*`, `host` and `content-type` ones.
pub fn acs3_authorization(
    method: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    (key_id, secret): (&str, &str),
) -> String {
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed = headers.keys().cloned().collect::<Vec<_>>().join(";");
    let canonical = format!(
        "{method}\n/\n{canonical_query}\n{canonical_headers}\n{signed}\n{}",
        sha256_hex(body)
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    let signature = hex(&hmac(secret.as_bytes(), to_sign.as_bytes()));
    format!("ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={signed},Signature={signature}")
}

/// Tencent's TC3 signature: its `Authorization` header. `headers` are the
/// signed ones (lower-case names); values are lower-cased as the
/// documentation says.
pub fn tc3_authorization(
    service: &str,
    timestamp: i64,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    (secret_id, secret_key): (&str, &str),
) -> String {
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim().to_lowercase()))
        .collect();
    let signed = headers.keys().cloned().collect::<Vec<_>>().join(";");
    let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{}", sha256_hex(body));
    let date = jiff::Timestamp::from_second(timestamp)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let scope = format!("{date}/{service}/tc3_request");
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    format!("TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={signature}")
}

fn host_of(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or_else(|| h.to_owned(), |p| format!("{h}:{p}")))
        })
        .unwrap_or_default()
}

/// The signed request for `text` through `provider` at `endpoint`
/// (`https://dysmsapi.aliyuncs.com`, `https://sms.tencentcloudapi.com`,
/// or a stand-in's address), at Unix time `now` with a fresh `nonce`.
pub fn request(
    provider: &Provider,
    endpoint: &str,
    (key_id, secret): (&str, &str),
    text: &Text,
    now: i64,
    nonce: &str,
) -> Request {
    let host = host_of(endpoint);
    let base = endpoint.trim_end_matches('/');
    match provider {
        Provider::Aliyun => {
            let params: serde_json::Map<String, serde_json::Value> = text
                .params
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let query: BTreeMap<String, String> = [
                ("PhoneNumbers", text.phone.clone()),
                ("SignName", text.sign_name.clone()),
                ("TemplateCode", text.template.clone()),
                ("TemplateParam", serde_json::Value::Object(params).to_string()),
                ("OutId", text.out_id.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let date = jiff::Timestamp::from_second(now)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let headers: BTreeMap<String, String> = [
                ("host", host),
                ("x-acs-action", "SendSms".to_owned()),
                ("x-acs-content-sha256", sha256_hex(b"")),
                ("x-acs-date", date),
                ("x-acs-signature-nonce", nonce.to_owned()),
                ("x-acs-version", "2017-05-25".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let auth = acs3_authorization("POST", &query, &headers, b"", (key_id, secret));
            let qs = query
                .iter()
                .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
                .collect::<Vec<_>>()
                .join("&");
            let mut out: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
            out.push(("authorization".into(), auth));
            Request {
                url: format!("{base}/?{qs}"),
                headers: out,
                body: Vec::new(),
            }
        }
        Provider::Tencent { sdk_app_id, region } => {
            let phone = if text.phone.starts_with('+') {
                text.phone.clone()
            } else {
                format!("+86{}", text.phone)
            };
            let body = serde_json::json!({
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": sdk_app_id,
                "SignName": text.sign_name,
                "TemplateId": text.template,
                "TemplateParamSet": text.params.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
                "SessionContext": text.out_id,
            })
            .to_string()
            .into_bytes();
            let content_type = "application/json; charset=utf-8".to_owned();
            let signed: BTreeMap<String, String> = [
                ("content-type", content_type.clone()),
                ("host", host),
                ("x-tc-action", "SendSms".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let auth = tc3_authorization("sms", now, &signed, &body, (key_id, secret));
            Request {
                url: format!("{base}/"),
                headers: vec![
                    ("authorization".into(), auth),
                    ("content-type".into(), content_type),
                    ("x-tc-action".into(), "SendSms".into()),
                    ("x-tc-timestamp".into(), now.to_string()),
                    ("x-tc-version".into(), "2021-01-11".into()),
                    ("x-tc-region".into(), region.clone()),
                ],
                body,
            }
        }
    }
}

/// What the provider's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent,
    /// Worth trying later (limits, the provider's own trouble).
    Later(String),
    /// It will not go however often it is tried (a bad number, template,
    /// signature or key).
    Refused(String),
}

/// Reads a provider's answer body.
pub fn answer(provider: &Provider, status: u16, body: &str) -> Answer {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let later = |code: &str| {
        code.contains("LIMIT")
            || code.contains("Limit")
            || code.starts_with("isp.")
            || code.starts_with("InternalError")
            || code == "Throttling"
            || code.starts_with("Throttling.")
            || code == "RequestLimitExceeded"
    };
    let (code, message) = match provider {
        Provider::Aliyun => (
            v["Code"].as_str().unwrap_or_default().to_owned(),
            v["Message"].as_str().unwrap_or_default().to_owned(),
        ),
        Provider::Tencent { .. } => {
            let r = &v["Response"];
            if r["Error"].is_object() {
                (
                    r["Error"]["Code"].as_str().unwrap_or_default().to_owned(),
                    r["Error"]["Message"].as_str().unwrap_or_default().to_owned(),
                )
            } else {
                let s = &r["SendStatusSet"][0];
                (
                    s["Code"].as_str().unwrap_or_default().to_owned(),
                    s["Message"].as_str().unwrap_or_default().to_owned(),
                )
            }
        }
    };
    match code.as_str() {
        "OK" | "Ok" => Answer::Sent,
        "" if status >= 500 || status == 429 => Answer::Later(format!("HTTP {status}")),
        "" => Answer::Later(format!("HTTP {status}: an answer without a code")),
        c if later(c) => Answer::Later(format!("{c}: {message}")),
        c => Answer::Refused(format!("{c}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The example of Alibaba's "V3 request structure and signature"
    /// page, with its fixed values.
    #[test]
    fn acs3_signs_alibabas_own_example() {
        let auth = acs3_authorization(
            "POST",
            &map(&[
                ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
                ("RegionId", "cn-shanghai"),
            ]),
            &map(&[
                ("host", "ecs.cn-shanghai.aliyuncs.com"),
                ("x-acs-action", "RunInstances"),
                (
                    "x-acs-content-sha256",
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ),
                ("x-acs-date", "2023-10-26T10:22:32Z"),
                ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
                ("x-acs-version", "2014-05-26"),
            ]),
            b"",
            ("YourAccessKeyId", "YourAccessKeySecret"),
        );
        assert_eq!(
            auth,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
             x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    /// Tencent's worked example (CVM DescribeInstances), the revision that
    /// signs content-type and host with the key ending in EXAMPLE.
    #[test]
    fn tc3_signs_tencents_own_example() {
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let auth = tc3_authorization(
            "cvm",
            1_551_113_065,
            &map(&[
                ("content-type", "application/json; charset=utf-8"),
                ("host", "cvm.tencentcloudapi.com"),
            ]),
            body,
            (
                "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            ),
        );
        assert_eq!(
            auth,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn chinese_sign_names_and_json_params_are_encoded_once() {
        assert_eq!(percent("阿里云"), "%E9%98%BF%E9%87%8C%E4%BA%91");
        assert_eq!(percent(r#"{"code":"1 2*~"}"#), "%7B%22code%22%3A%221%202%2A~%22%7D");
        let text = Text {
            phone: "13800138000".into(),
            sign_name: "谯城区政务服务中心".into(),
            template: "SMS_1".into(),
            params: vec![("number".into(), "A023".into()), ("ahead".into(), "3".into())],
            out_id: "h.1.2.sms".into(),
        };
        let r = request(
            &Provider::Aliyun,
            "http://127.0.0.1:9/",
            ("id", "secret"),
            &text,
            0,
            "n1",
        );
        assert!(
            r.url
                .starts_with("http://127.0.0.1:9/?OutId=h.1.2.sms&PhoneNumbers=13800138000&SignName=%E8%B0%AF")
        );
        assert!(
            r.url
                .contains("TemplateParam=%7B%22ahead%22%3A%223%22%2C%22number%22%3A%22A023%22%7D"),
            "{}",
            r.url
        );
        let t = request(
            &Provider::Tencent {
                sdk_app_id: "1400000000".into(),
                region: "ap-guangzhou".into(),
            },
            "http://127.0.0.1:9",
            ("id", "secret"),
            &text,
            0,
            "n1",
        );
        let body: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(body["PhoneNumberSet"][0], "+8613800138000");
        assert_eq!(body["TemplateParamSet"], serde_json::json!(["A023", "3"]));
    }

    #[test]
    fn answers_are_read_from_the_body() {
        let ali = Provider::Aliyun;
        assert_eq!(
            answer(&ali, 200, r#"{"Code":"OK","Message":"OK","BizId":"1"}"#),
            Answer::Sent
        );
        assert!(matches!(
            answer(
                &ali,
                200,
                r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控"}"#
            ),
            Answer::Later(_)
        ));
        assert!(matches!(
            answer(
                &ali,
                200,
                r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"}"#
            ),
            Answer::Refused(_)
        ));
        assert!(matches!(answer(&ali, 502, "bad gateway"), Answer::Later(_)));
        let tc = Provider::Tencent {
            sdk_app_id: String::new(),
            region: String::new(),
        };
        assert_eq!(
            answer(
                &tc,
                200,
                r#"{"Response":{"SendStatusSet":[{"Code":"Ok"}],"RequestId":"x"}}"#
            ),
            Answer::Sent
        );
        assert!(matches!(
            answer(
                &tc,
                200,
                r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"no"}}}"#
            ),
            Answer::Refused(_)
        ));
        assert!(matches!(
            answer(
                &tc,
                200,
                r#"{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberDailyLimit"}]}}"#
            ),
            Answer::Later(_)
        ));
    }
}
