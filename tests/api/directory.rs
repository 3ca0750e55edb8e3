//! Staff sign-in from a directory: a real OpenLDAP of the test's own, over
//! ldaps:// and StartTLS, beside the sample's local accounts.

use std::path::{Path, PathBuf};

use hallcall::cli::{Args, StoreUrl};
use serde_json::{Value, json};

use crate::helpers::{DEMO_PASSWORD, TUESDAY_10AM, TestApp, login_raw, spawn_app_args};
use crate::ldap_server::LdapServer;

const HALL: &str = "qiaocheng";

/// People and groups as a hall's IT department would have them.
fn directory_data() -> String {
    let person = |uid: &str, cn: &str, display: &str, number: &str, password: &str| {
        format!(
            "dn: uid={uid},ou=people,dc=hall,dc=test\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\n\
             displayName: {display}\nemployeeNumber: {number}\nuserPassword: {password}\n\n"
        )
    };
    let group = |cn: &str, members: &[&str]| {
        let mut g = format!("dn: cn={cn},ou=groups,dc=hall,dc=test\nobjectClass: groupOfNames\ncn: {cn}\n");
        for m in members {
            g.push_str(&format!("member: uid={m},ou=people,dc=hall,dc=test\n"));
        }
        g + "\n"
    };
    [
        "dn: dc=hall,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: hall\ndc: hall\n\n".to_owned(),
        "dn: ou=people,dc=hall,dc=test\nobjectClass: organizationalUnit\nou: people\n\n".to_owned(),
        "dn: ou=groups,dc=hall,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n".to_owned(),
        "dn: ou=services,dc=hall,dc=test\nobjectClass: organizationalUnit\nou: services\n\n".to_owned(),
        "dn: cn=hallcall,ou=services,dc=hall,dc=test\nobjectClass: person\ncn: hallcall\nsn: hallcall\n\
         userPassword: service-secret\n\n"
            .to_owned(),
        person("liming", "Li Ming", "李明", "0305", "liming-pass"),
        person("wangfang", "Wang Fang", "王芳", "0112", "wangfang-pass"),
        person("zhaolei", "Zhao Lei", "赵磊", "0420", "zhaolei-pass"),
        // A directory person with a local account's name: the local one
        // signs in, never this.
        person("supervisor", "Impostor", "冒名", "9999", "directory-pass"),
        group("intake", &["liming"]),
        group("construction", &["liming"]),
        group("supervisors", &["wangfang"]),
        group("cleaners", &["zhaolei"]),
    ]
    .concat()
}

/// The sample hall with a `[directory]` and its groups mapped to roles.
fn config(dir: &Path, url: &str, tls: &str, ca: &Path) -> PathBuf {
    let secret = dir.join("ldap-password");
    std::fs::write(&secret, "service-secret\n").unwrap();
    let sample = std::fs::read_to_string(crate::helpers::sample_config()).unwrap();
    // The groups go into the first hall: before the second `[[hall]]`.
    let second = sample
        .match_indices("\n[[hall]]")
        .nth(1)
        .map_or(sample.len(), |(i, _)| i);
    let (first, rest) = sample.split_at(second);
    let text = format!(
        "{first}
[directory]
url = \"{url}\"
{tls}
ca_file = \"{ca}\"
bind_dn = \"cn=hallcall,ou=services,dc=hall,dc=test\"
bind_password_file = \"{secret}\"
user_base = \"ou=people,dc=hall,dc=test\"
group_base = \"ou=groups,dc=hall,dc=test\"
timeout_seconds = 3

[[hall.directory_group]]
group = \"cn=supervisors,ou=groups,dc=hall,dc=test\"
role = \"supervisor\"

[[hall.directory_group]]
group = \"CN=Intake, OU=Groups, DC=hall, DC=test\"
role = \"window\"
windows = [1, 2]

[[hall.directory_group]]
group = \"cn=construction,ou=groups,dc=hall,dc=test\"
role = \"window\"
windows = [10]
{rest}",
        ca = ca.display(),
        secret = secret.display()
    );
    let path = dir.join("hall.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn start(dir: &Path, config: PathBuf) -> TestApp {
    let args = Args {
        config,
        ..crate::helpers::args(StoreUrl::File(dir.join("data")))
    };
    spawn_app_args(args, TUESDAY_10AM).await
}

async fn post(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app.client.post(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn directory_people_sign_in_with_their_groups_roles_and_local_accounts_outlive_an_outage() {
    let mut ldap = LdapServer::start(&directory_data());
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path(), config(dir.path(), &ldap.tls_url(), "", &ldap.ca_file())).await;

    // A window clerk in two mapped groups: both groups' windows, and the
    // name and staff number the directory holds.
    let (s, session) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(s, 200, "{session}");
    assert_eq!(session["role"], "window");
    assert_eq!(session["windows"], json!([1, 2, 10]));
    let token = session["token"].as_str().unwrap().to_owned();
    let (s, r) = post(&app, &token, "/api/v1/halls/qiaocheng/windows/10/open").await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = post(&app, &token, "/api/v1/halls/qiaocheng/windows/3/open").await;
    assert_eq!(s, 403, "a window the groups do not give: {r}");
    let (_, card) = app
        .get_as(HALL, "display", "/api/v1/halls/qiaocheng/windows/10/card")
        .await;
    assert_eq!(card["staff"], "李明（工号0305）", "{card}");
    // A pass for the live connection works as a local account's does.
    let (s, r) = post(&app, &token, "/api/v1/halls/qiaocheng/passes").await;
    assert_eq!(s, 200, "{r}");

    // A supervisor by group.
    let (s, session) = login_raw(&app, HALL, "wangfang", "wangfang-pass").await;
    assert_eq!((s, session["role"].as_str()), (200, Some("supervisor")), "{session}");
    let supervisor = session["token"].as_str().unwrap().to_owned();
    let (s, r) = get(&app, &supervisor, "/api/v1/halls/qiaocheng/audit").await;
    assert_eq!(s, 200, "{r}");
    let signed_in = r["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["who"] == "liming" && e["action"] == "signed_in");
    assert!(signed_in, "the audit log has the directory sign-in: {r}");

    // Refusals: a wrong or empty password, an unknown name, a filter
    // trick; a person the directory knows but no group maps.
    for (user, password) in [
        ("liming", "wrong"),
        ("liming", ""),
        ("nobody", "x"),
        ("*", "liming-pass"),
        ("liming)(uid=*", "liming-pass"),
    ] {
        let (s, r) = login_raw(&app, HALL, user, password).await;
        assert_eq!(s, 401, "{user:?}/{password:?}: {r}");
        assert_eq!(r["error"]["code"], "unauthenticated", "{r}");
    }
    let (s, r) = login_raw(&app, HALL, "zhaolei", "zhaolei-pass").await;
    assert_eq!((s, r["error"]["code"].as_str()), (403, Some("no_role")), "{r}");

    // A local account's name is never the directory's.
    let (s, r) = login_raw(&app, HALL, "supervisor", "directory-pass").await;
    assert_eq!(s, 401, "{r}");
    let (s, r) = login_raw(&app, HALL, "supervisor", DEMO_PASSWORD).await;
    assert_eq!(s, 200, "{r}");

    // The directory away: its people are told so, local accounts and
    // sessions already given go on.
    ldap.stop();
    let (s, r) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("directory_unavailable")),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("local accounts still can"),
        "{r}"
    );
    let (s, r) = login_raw(&app, HALL, "guide", DEMO_PASSWORD).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = post(&app, &token, "/api/v1/halls/qiaocheng/windows/10/resume").await;
    assert_eq!(s, 200, "a session from the directory outlives its outage: {r}");
    // An outage is no wrong password: it does not lock the account.
    for _ in 0..8 {
        assert_eq!(login_raw(&app, HALL, "liming", "liming-pass").await.0, 503);
    }
    // Monitoring sees the outage.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hallcall_directory_up 0"), "{metrics}");
    assert!(
        metrics.contains("hallcall_directory_sign_ins_total{outcome=\"unavailable\"} 9"),
        "{metrics}"
    );
    ldap.restart();
    let (s, r) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(s, 200, "back with the directory: {r}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hallcall_directory_up 1"), "{metrics}");

    // An administrator ends a directory person's sessions as a local one's.
    let admin = app.token(HALL, "admin").await;
    let (s, r) = post(&app, &admin, "/api/v1/halls/qiaocheng/accounts/liming/sign-out").await;
    assert_eq!(s, 204, "{r}");
    let (s, r) = post(&app, &token, "/api/v1/halls/qiaocheng/windows/10/resume").await;
    assert_eq!(s, 401, "{r}");
    app.shutdown().await;
}

#[tokio::test]
async fn starttls_works_and_a_certificate_from_an_unknown_authority_is_refused() {
    let ldap = LdapServer::start(&directory_data());
    let dir = tempfile::tempdir().unwrap();
    let starttls = dir.path().join("starttls");
    std::fs::create_dir(&starttls).unwrap();
    let app = start(
        &starttls,
        config(&starttls, &ldap.url(), "starttls = true", &ldap.ca_file()),
    )
    .await;
    let (s, r) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(s, 200, "{r}");
    app.shutdown().await;

    let stranger = dir.path().join("stranger");
    std::fs::create_dir(&stranger).unwrap();
    let app = start(&stranger, config(&stranger, &ldap.tls_url(), "", &ldap.other_ca_file())).await;
    let (s, r) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("directory_unavailable")),
        "{r}"
    );
    let message = r["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("certificate"), "the reason is named: {r}");
    let (s, r) = login_raw(&app, HALL, "w1", DEMO_PASSWORD).await;
    assert_eq!(s, 200, "{r}");
    app.shutdown().await;

    // A directory behind a firewall that drops packets: connections are
    // taken (by the kernel) and never answered. The sign-in ends at the
    // configured timeout with a reason, not when the citizen gives up.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mute = dir.path().join("mute");
    std::fs::create_dir(&mute).unwrap();
    let app = start(
        &mute,
        config(&mute, &format!("ldaps://localhost:{port}"), "", &ldap.ca_file()),
    )
    .await;
    let (s, r) = login_raw(&app, HALL, "liming", "liming-pass").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("directory_unavailable")),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within 3 s"),
        "{r}"
    );
    app.shutdown().await;
    drop(silent);
}
