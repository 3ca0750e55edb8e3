//! The real executable: configuration errors stop it before it serves.

use std::io::Write;
use std::process::Command;

fn hallcall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("hallcall runs")
}

#[test]
fn a_malformed_config_exits_non_zero_naming_the_problem() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let good = std::fs::read_to_string(crate::helpers::sample_config()).unwrap();
    let bad = good.replacen("serves = [\"general\"] },", "serves = [\"genral\"] },", 1);
    file.write_all(bad.as_bytes()).unwrap();
    let path = file.path().to_str().unwrap();
    let out = hallcall(&["--config", path, "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(path), "names the file: {stderr}");
    assert!(
        stderr.contains("window 1: serves unknown zone \"genral\""),
        "names the place and problem: {stderr}"
    );
    assert!(stderr.contains(":23:"), "names the line: {stderr}");
}

#[test]
fn a_missing_config_exits_non_zero() {
    let out = hallcall(&["--config", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn a_bad_store_url_is_refused_by_the_command_line() {
    let out = hallcall(&["--store", "mysql://localhost"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a store URL"));
}

#[test]
fn check_config_summarises_the_samples() {
    let out = hallcall(&["--check-config"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("qiaocheng 谯城区政务服务中心"), "{stdout}");
    assert!(stdout.contains("7 zones, 29 windows"), "{stdout}");
    let out = hallcall(&["--config", "config/puning.toml", "--check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_config_reads_the_files_a_directory_names() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(crate::helpers::sample_config()).unwrap();
    let secret = dir.path().join("ldap-password");
    let config = |password_file: &std::path::Path| {
        let text = format!(
            "[directory]\nurl = \"ldaps://dc.example.org\"\nuser_base = \"ou=people,dc=example,dc=org\"\n\
             bind_dn = \"cn=hallcall,dc=example,dc=org\"\nbind_password_file = \"{}\"\n{sample}",
            password_file.display()
        );
        let path = dir.path().join("hall.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let path = config(&secret);
    let out = hallcall(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bind_password_file") && stderr.contains("ldap-password"),
        "{stderr}"
    );
    std::fs::write(&secret, "s3cret\n").unwrap();
    let out = hallcall(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("directory: ldaps://dc.example.org"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
}

/// With the sample password in use the server starts only in demo mode.
#[test]
fn sample_passwords_stop_the_start_outside_demo_mode() {
    let data = tempfile::tempdir().unwrap();
    let store = format!("file:{}", data.path().display());
    let out = hallcall(&["--listen", "127.0.0.1:0", "--store", &store]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sample password hallcall-demo") && err.contains("qiaocheng/") && err.contains("--demo"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(data.path()).unwrap().next().is_none(),
        "refused before the store was touched"
    );
}

/// At start the server says where to open its pages, and in demo mode
/// warns while the sample password is in use.
#[test]
fn the_server_says_where_to_open_it_and_warns_of_sample_passwords() {
    use std::io::BufRead;
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .args(["--demo", "--listen", "127.0.0.1:0", "--store"])
        .arg(format!("file:{}", data.path().display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hallcall starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = String::new();
    while !seen.contains("hallcall listening") {
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains("open http://127.0.0.1:"), "{seen}");
    assert!(seen.contains("sample password (hallcall-demo)"), "{seen}");
    assert!(seen.contains("hall=qiaocheng"), "{seen}");
}

/// A person key inside the store's directory (copied with every backup)
/// or one that is not a key stops the start, naming the file.
#[test]
fn a_person_key_in_the_store_or_malformed_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let store = format!("file:{}", data.path().display());
    // The server's complaint when started with `key` as its person key.
    let refusal = |key: &std::path::Path| {
        let out = hallcall(&[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--person-key-file",
            &key.display().to_string(),
        ]);
        assert!(!out.status.success(), "refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let inside = data.path().join("person.key");
    std::fs::write(&inside, "ab".repeat(32)).unwrap();
    let err = refusal(&inside);
    assert!(
        err.contains("inside the store's directory") && err.contains("person.key"),
        "{err}"
    );

    let short = outside.path().join("short.key");
    std::fs::write(&short, "abc").unwrap();
    let err = refusal(&short);
    assert!(
        err.contains("not hex of at least 16 bytes") && err.contains("short.key"),
        "{err}"
    );
}
