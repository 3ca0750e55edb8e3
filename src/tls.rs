//! TLS to the services the server is a client of (the staff directory,
//! the PostgreSQL archive): rustls, trusting a hall's own authority when
//! one is given, else the system's.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the PEM certificates in `ca_file`, or
/// the system's authorities; `what` names the setting in errors.
///
/// # Errors
/// `ca_file` cannot be read or holds no usable certificate.
pub fn client_config(ca_file: Option<&Path>, what: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |e: &dyn std::fmt::Display| format!("{what} {}: {e}", path.display());
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            if roots.is_empty() {
                return Err(bad(&"no certificate in it"));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system store may hold a certificate rustls cannot use;
                // the rest still count.
                let _ = roots.add(cert);
            }
        }
    }
    // ring rather than aws-lc-rs: no cmake or C++ toolchain to build, and
    // services in the hall's own network need no post-quantum key
    // exchange (what the deprecation is about).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
