//! Slips printed by the server on a network printer the test runs: the
//! text decodes from GB18030, the number is large, the QR code holds the
//! ticket page's link and the paper is cut; a printer out of paper or off
//! never stops the ticket, and the desk can print it again.

use serde_json::{Value, json};

use crate::escpos_printer::Printer;
use crate::helpers::{TUESDAY_10AM, TestApp, args, spawn_app_args};
use hallcall::cli::StoreUrl;

const HALL: &str = "crash";

async fn app(dir: &std::path::Path, address: &str) -> TestApp {
    let text = format!(
        r#"{base}
[[hall.printer]]
name = "desk-1"
address = "{address}"
accounts = ["admin"]
footer = "请留意叫号 过号请到引导台"
"#,
        base = crate::crash::config_near_noon(),
    );
    let config = dir.join("hall.toml");
    std::fs::write(&config, text).unwrap();
    spawn_app_args(
        hallcall::cli::Args {
            config,
            ..args(StoreUrl::File(dir.join("data")))
        },
        TUESDAY_10AM,
    )
    .await
}

async fn issue(app: &TestApp) -> Value {
    let (status, body) = app
        .post_as(
            HALL,
            "admin",
            &format!("/api/v1/halls/{HALL}/tickets"),
            Some(json!({"zone": "general", "service": "apply"})),
        )
        .await;
    assert_eq!(status, 201, "issued whatever the printer does: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slip_prints_on_the_desks_printer_and_a_printer_in_trouble_never_stops_a_ticket() {
    let printer = Printer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &printer.address).await;

    let body = issue(&app).await;
    assert_eq!(body["printed"], json!({"printer": "desk-1", "ok": true}), "{body}");
    let out = printer.until(1).await.remove(0);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.lines.contains(&"崩溃测试大厅".to_owned()), "{:?}", out.lines);
    assert!(out.lines.contains(&"综合 · 受理".to_owned()), "{:?}", out.lines);
    assert!(out.lines.contains(&"前面还有 0 人等候".to_owned()), "{:?}", out.lines);
    assert!(out.lines.contains(&"请留意叫号 过号请到引导台".to_owned()));
    assert_eq!(out.large, ["A001"], "the number, and only it, large");
    let token = body["token"].as_str().unwrap();
    assert_eq!(out.qr.as_deref(), Some(format!("{}/t/{token}", app.base()).as_str()));
    assert_eq!(out.qr_model, Some(0x32), "model 2");
    assert_eq!(out.cut, Some("partial"));

    // Out of paper: the ticket is issued, the desk is told.
    printer.paper_out(true);
    let body = issue(&app).await;
    assert_eq!(body["ticket"]["number"], "A002");
    assert_eq!(body["printed"]["ok"], false);
    assert_eq!(body["printed"]["problem"], "paper_out");
    assert_eq!(printer.printed().len(), 1, "nothing printed without paper");
    // Paper back: printed again on request.
    printer.paper_out(false);
    let (status, again) = app
        .post_as(HALL, "admin", &format!("/api/v1/halls/{HALL}/tickets/A002/print"), None)
        .await;
    assert_eq!((status, again["ok"].as_bool()), (200, Some(true)), "{again}");
    let out = printer.until(2).await.remove(1);
    assert_eq!(out.large, ["A002"]);
    assert!(out.lines.contains(&"前面还有 1 人等候".to_owned()), "{:?}", out.lines);

    // The printer gone: still issued.
    drop(printer);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let body = issue(&app).await;
    assert_eq!(body["ticket"]["number"], "A003");
    assert_eq!(body["printed"]["problem"], "unreachable", "{body}");
    let (status, body) = app
        .post_as(HALL, "admin", &format!("/api/v1/halls/{HALL}/tickets/A009/print"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_ticket")),
        "{body}"
    );
}
