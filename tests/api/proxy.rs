//! Behind nginx, configured as config/nginx/ says (the files themselves
//! are what runs here): each citizen has their own rate limit, a forged
//! X-Forwarded-For changes nothing, a hall's PCs behind one address all
//! sign in at once, WebSockets pass through, and the TLS site answers.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::future::join_all;
use hallcall::cli::{ConnArgs, StoreUrl};
use serde_json::json;

use crate::crash::free_port;
use crate::helpers::{DEMO_PASSWORD, TUESDAY_10AM, next_json, spawn_app_limited};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// nginx with the site of config/nginx/hallcall.conf (ports, certificate
/// and paths moved into `dir`) and a plain listener on `plain` with the
/// same locations, proxying to hallcall on `upstream`.
fn nginx(dir: &Path, upstream: u16, plain: u16, tls: u16) -> Nginx {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is installed (apt-get install nginx; scripts/test.sh does it)");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(dir.join("fullchain.pem"))
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let locations = repo("config/nginx/hallcall-locations.conf");
    let site = std::fs::read_to_string(repo("config/nginx/hallcall.conf"))
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{upstream}"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{};", free_port()))
        .replace("listen [::]:80;", "")
        .replace("listen 443 ssl http2;", &format!("listen 127.0.0.1:{tls} ssl http2;"))
        .replace("listen [::]:443 ssl http2;", "")
        .replace("/etc/ssl/hallcall/", &format!("{}/", dir.display()))
        .replace("/etc/nginx/hallcall-locations.conf", &locations.display().to_string());
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {site}\n  server {{\n    listen 127.0.0.1:{plain};\n    include {};\n  }}\n}}\n",
        locations.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    let n = Nginx(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", plain)).is_ok() {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "nginx did not listen: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

/// A client whose connections come from `ip` (any 127.x is loopback).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_every_client_has_its_own_limits_and_websockets_pass() {
    let app = spawn_app_limited(
        StoreUrl::File(tempfile::tempdir().unwrap().keep()),
        TUESDAY_10AM,
        ConnArgs {
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..ConnArgs::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (plain, tls) = (free_port(), free_port());
    let _nginx = nginx(dir.path(), app.addr.port(), plain, tls);
    let base = format!("http://127.0.0.1:{plain}");

    // Citizen A uses up the public limit (30 at once) on ticket pages.
    let a = client_from("127.0.0.2");
    let look = |c: &reqwest::Client, forged: Option<&str>| {
        let mut r = c.get(format!(
            "{base}/api/v1/tickets/qiaocheng.20260106.A001.AAAAAAAAAAAAAAAAAAAAAA"
        ));
        if let Some(f) = forged {
            r = r.header("x-forwarded-for", f);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let mut limited = false;
    for _ in 0..40 {
        if look(&a, None).await == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "citizen A is rate limited");
    // Writing another address in the header does not get A a new bucket.
    assert_eq!(look(&a, Some("203.0.113.50")).await, 429, "a forged X-Forwarded-For");
    // Citizen B, behind the same proxy, is not held by A's limit.
    let b = client_from("127.0.0.3");
    assert_ne!(look(&b, None).await, 429, "citizen B has a bucket of their own");

    // Thirty PCs behind one NAT address sign in at the same moment.
    let nat = client_from("127.0.0.4");
    let users: Vec<String> = (1..=29).map(|i| format!("w{i}")).chain(["guide".into()]).collect();
    let signed = join_all(users.iter().map(|u| {
        let nat = nat.clone();
        let url = format!("{base}/api/v1/login");
        let body = json!({"hall": "qiaocheng", "user": u, "password": DEMO_PASSWORD});
        async move { nat.post(url).json(&body).send().await.unwrap().status().as_u16() }
    }))
    .await;
    assert!(signed.iter().all(|s| *s == 200), "every PC signed in: {signed:?}");

    // A screen's WebSocket through the proxy.
    let token = app.token("qiaocheng", "display").await;
    let pass = nat
        .post(format!("{base}/api/v1/halls/qiaocheng/passes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["pass"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("ws://127.0.0.1:{plain}/api/v1/halls/qiaocheng/live?pass={pass}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgraded through nginx");
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    app.post_as("qiaocheng", "w4", "/api/v1/halls/qiaocheng/windows/4/open", None)
        .await;
    assert_eq!(
        crate::helpers::until(&mut ws, |v| v["type"] == "delta").await["type"],
        "delta"
    );

    // The TLS site of hallcall.conf answers, with HSTS (curl: the tests'
    // HTTP client has no TLS).
    let out = Command::new("curl")
        .args(["-sk", "-D", "-", &format!("https://127.0.0.1:{tls}/healthz")])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        text.starts_with("http/2 200") || text.starts_with("http/1.1 200"),
        "{text}"
    );
    assert!(text.contains("strict-transport-security: max-age=31536000"), "{text}");
    assert!(text.contains("\"status\":\"ok\""), "{text}");
}
