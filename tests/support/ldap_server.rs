//! A throwaway OpenLDAP for tests: Debian's `slapd` on two free ports
//! (`ldap://` with StartTLS, and `ldaps://`), its database loaded with
//! `slapadd` from the test's LDIF, its TLS certificate signed by a CA made
//! for the run. Never the directory a machine may already run, and never
//! skipped: without `slapd`, starting one panics and says how to install it.
#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_WITHIN: Duration = Duration::from_secs(20);
const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

/// The suffix every test directory has.
pub const SUFFIX: &str = "dc=hall,dc=test";
/// The administrator `slapadd` and the tests write as.
pub const ROOT_DN: &str = "cn=admin,dc=hall,dc=test";

pub struct LdapServer {
    dir: TempDir,
    port: u16,
    tls_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl LdapServer {
    /// Loads `ldif` (entries under [`SUFFIX`], the suffix itself included)
    /// and starts slapd.
    ///
    /// # Panics
    /// slapd is missing, refuses the data, or does not listen in 20 s.
    pub fn start(ldif: &str) -> LdapServer {
        assert!(
            Path::new(SLAPD).exists() && Path::new(SLAPADD).exists(),
            "OpenLDAP's slapd is not installed; these tests need it: apt-get install slapd ldap-utils"
        );
        let dir = tempfile::Builder::new()
            .prefix("hallcall-ldap-")
            .tempdir()
            .expect("a temporary directory for slapd");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).expect("the database directory");
        write_certificates(d);
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 10485760
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw admin-secret
directory {d}/db
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by users read by * none
",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).expect("slapd.conf");
        std::fs::write(d.join("data.ldif"), ldif).expect("data.ldif");
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd refused the data: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = LdapServer {
            dir,
            port: free_port(),
            tls_port: free_port(),
            child: None,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(d.join("slapd.log"))
            .expect("the log file");
        let err = log.try_clone().expect("the log file");
        let mut cmd = Command::new(SLAPD);
        cmd.arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
                self.port, self.tls_port
            ))
            // In the foreground (any -d keeps it there), quiet.
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        // Gone with the test process, even if it dies without dropping us.
        // SAFETY: prctl is async-signal-safe and touches no Rust state.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("run slapd");
        let deadline = Instant::now() + READY_WITHIN;
        for port in [self.port, self.tls_port] {
            while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("slapd exited with {status}; log:\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "slapd did not listen in time; log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.child = Some(child);
    }

    /// `ldap://localhost:PORT` (for StartTLS, or in clear).
    pub fn url(&self) -> String {
        format!("ldap://localhost:{}", self.port)
    }

    /// `ldaps://localhost:PORT`.
    pub fn tls_url(&self) -> String {
        format!("ldaps://localhost:{}", self.tls_port)
    }

    /// The CA that signed the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A CA that signed nothing here, to see a certificate refused.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Stops the directory (SIGTERM, as an init system would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ =
                rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM);
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for LdapServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA (`ca.pem`), the server's certificate for `localhost` and 127.0.0.1
/// signed by it (`server.pem`, `server.key`), and a second CA that signed
/// nothing (`other-ca.pem`), written into `d`.
pub fn write_certificates(d: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca = |name: &str| {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("a CA certificate");
        (params, key, cert)
    };
    let (ca_params, ca_key, ca_cert) = ca("hallcall test CA");
    let (_, _, other) = ca("hallcall unrelated CA");
    let key = KeyPair::generate().expect("a server key");
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server parameters");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let issuer = Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("a server certificate");
    std::fs::write(d.join("ca.pem"), ca_cert.pem()).expect("ca.pem");
    std::fs::write(d.join("other-ca.pem"), other.pem()).expect("other-ca.pem");
    std::fs::write(d.join("server.pem"), cert.pem()).expect("server.pem");
    std::fs::write(d.join("server.key"), key.serialize_pem()).expect("server.key");
}
