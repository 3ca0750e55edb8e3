//! A real call's announcement fetched over HTTP, decoded, and heard to say
//! the ticket and the window.

use hallcall::audio::{Clip, Clips, Pos, decode_wav};
use hallcall::config::Lang;

use crate::helpers::spawn_app;

const HALL: &str = "/api/v1/halls/qiaocheng";

fn find(out: &[f32], clip: &[f32], from: usize) -> Option<usize> {
    let tol = 2.0 / f32::from(i16::MAX);
    (from..=out.len().checked_sub(clip.len())?).find(|&p| clip.iter().zip(&out[p..]).all(|(a, b)| (a - b).abs() <= tol))
}

#[tokio::test]
async fn the_wav_for_a_real_call_says_the_number_and_the_window() {
    let app = spawn_app().await;
    for _ in 0..23 {
        app.post_as(
            "qiaocheng",
            "guide",
            &format!("{HALL}/tickets"),
            Some(serde_json::json!({"zone": "general", "service": "social"})),
        )
        .await;
    }
    let path = |a: &str| format!("{HALL}/windows/4/{a}");
    app.post_as("qiaocheng", "w4", &path("open"), None).await;
    app.post_as("qiaocheng", "w4", &path("resume"), None).await;
    let (s, r) = app.post_as("qiaocheng", "w4", &path("call-next"), None).await;
    assert_eq!(s, 200, "{r}");
    let ticket = r["window"]["current"].as_str().unwrap().to_owned();
    assert_eq!(ticket, "A001");

    let token = app.token("qiaocheng", "display").await;
    let pass = app.pass("qiaocheng", &token).await;
    let res = app
        .client
        .get(app.url(&format!("{HALL}/announcements?ticket={ticket}&window=4&pass={pass}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/wav");
    let out = decode_wav(res.bytes().await.unwrap().to_vec()).expect("a WAV rodio decodes");
    assert!(
        out.len() as f32 / hallcall::audio::RATE as f32 > 3.0,
        "said twice, several seconds"
    );

    let clips = Clips::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))).unwrap();
    let zh = |d, p| Clip::TicketDigit(Lang::Zh, d, p);
    let word = |w: &str| Clip::Word(Lang::Zh, w.to_owned());
    // 叮咚 请 A 零 零 一 号 到 四 号窗口办理, twice.
    let said = [
        Clip::Chime,
        word("请"),
        Clip::Letter(Lang::Zh, 'A'),
        zh(0, Pos::First),
        zh(0, Pos::Middle),
        zh(1, Pos::Last),
        word("号"),
        word("到"),
        Clip::Number(Lang::Zh, 4),
        word("号窗口办理"),
    ];
    let mut at = 0;
    for _ in 0..2 {
        for clip in &said {
            at = find(&out, clips.get(clip).unwrap(), at)
                .unwrap_or_else(|| panic!("{clip:?} not heard after sample {at}"));
        }
    }

    // The same as text, for a display that speaks with its own voice.
    let res = app
        .client
        .get(app.url(&format!(
            "{HALL}/announcements/text?ticket={ticket}&window=4&pass={pass}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text: serde_json::Value = res.json().await.unwrap();
    assert_eq!(text["parts"][0]["lang"], "zh-CN", "{text}");
    assert_eq!(text["parts"][0]["text"], "请 A 零零一号到四号窗口办理", "{text}");
    assert_eq!(text["repeat"], 2);
    let res = app
        .client
        .get(app.url(&format!("{HALL}/announcements/text?ticket={ticket}&window=4")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Only for signed-in screens and staff, and only real windows.
    let res = app
        .client
        .get(app.url(&format!("{HALL}/announcements?ticket=A001&window=4")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url(&format!("{HALL}/announcements?ticket=A001&window=99&pass={pass}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
