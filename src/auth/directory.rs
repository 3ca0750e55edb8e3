//! Staff sign-in against LDAP or Active Directory: find the person's entry
//! with the service account, read the groups they belong to, then bind as
//! that entry with the password they typed (search-then-bind). Nothing of
//! the directory is kept: each sign-in asks it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use rustls::ClientConfig;
use tokio::sync::Semaphore;

use crate::config::{self, StaffCard, normal_dn};

/// Sign-ins waiting on the directory at once; more are answered busy
/// rather than queued behind a slow server.
const SLOTS: usize = 32;

/// LDAP result codes this module tells apart (RFC 4511, 4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

/// A person the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub dn: String,
    pub card: StaffCard,
    /// The groups they are in, as normalised DNs.
    pub groups: Vec<String>,
}

/// Why the directory could not say yes or no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("cannot reach the directory: {0}")]
    Unreachable(String),
    #[error("the directory refused hallcall's service account: {0}")]
    ServiceRefused(String),
    #[error("the directory could not look the person up: {0}")]
    Failed(String),
    #[error("too many sign-ins waiting on the directory")]
    Busy,
}

/// The directory as the server uses it.
pub struct Directory {
    cfg: config::Directory,
    bind_password: Option<String>,
    tls: Arc<ClientConfig>,
    slots: Semaphore,
    /// What sign-ins met, for `/metrics`.
    pub counts: Counts,
}

/// Sign-ins through the directory since start, by what came of them.
#[derive(Debug, Default)]
pub struct Counts {
    /// The directory bound the person.
    pub accepted: AtomicU64,
    /// Unknown name or wrong password (or a disabled account).
    pub refused: AtomicU64,
    /// The directory could not answer.
    pub unavailable: AtomicU64,
    /// Whether the latest sign-in that reached for the directory got an
    /// answer (true before any).
    pub down: AtomicBool,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.cfg.url)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Reads the service account's password and the authorities to trust;
    /// does not connect (the directory may be away while the hall opens).
    ///
    /// # Errors
    /// A file named in the configuration cannot be read or holds no
    /// certificate.
    pub fn new(cfg: &config::Directory) -> Result<Directory, String> {
        let bind_password = match &cfg.bind_password_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("directory bind_password_file {}: {e}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Directory {
            tls: crate::tls::client_config(cfg.ca_file.as_deref(), "directory ca_file")?,
            cfg: cfg.clone(),
            bind_password,
            slots: Semaphore::new(SLOTS),
            counts: Counts::default(),
        })
    }

    /// The directory's address, for logs and the status.
    pub fn url(&self) -> &str {
        &self.cfg.url
    }

    /// Checks `user`'s `password`: the person when the directory binds
    /// them, `None` for an unknown name or a wrong password.
    ///
    /// # Errors
    /// The directory cannot answer (down, slow, misconfigured).
    pub async fn sign_in(&self, user: &str, password: &str) -> Result<Option<Person>, DirectoryError> {
        // An empty password binds anonymously and succeeds (RFC 4513,
        // 5.1.2): it must never reach the directory.
        if password.is_empty() || user.is_empty() {
            return Ok(None);
        }
        let _slot = self.slots.try_acquire().map_err(|_| DirectoryError::Busy)?;
        let outcome = tokio::time::timeout(self.cfg.timeout, self.attempt(user, password))
            .await
            .unwrap_or(Err(DirectoryError::Timeout(self.cfg.timeout)));
        let c = &self.counts;
        let counter = match &outcome {
            Ok(Some(_)) => &c.accepted,
            Ok(None) => &c.refused,
            Err(_) => &c.unavailable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        c.down.store(outcome.is_err(), Ordering::Relaxed);
        outcome
    }

    async fn attempt(&self, user: &str, password: &str) -> Result<Option<Person>, DirectoryError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.cfg.timeout)
            .set_config(self.tls.clone())
            .set_starttls(self.cfg.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.cfg.url)
            .await
            .map_err(|e| match e {
                ldap3::LdapError::Timeout { .. } => DirectoryError::Timeout(self.cfg.timeout),
                e => DirectoryError::Unreachable(e.to_string()),
            })?;
        ldap3::drive!(conn);
        if let (Some(dn), Some(pw)) = (&self.cfg.bind_dn, &self.bind_password) {
            let r = ldap
                .simple_bind(dn, pw)
                .await
                .map_err(|e| DirectoryError::Unreachable(e.to_string()))?;
            if r.rc != 0 {
                return Err(DirectoryError::ServiceRefused(r.to_string()));
            }
        }
        let failed = |e: ldap3::LdapError| DirectoryError::Failed(e.to_string());
        let escaped = ldap_escape(user);
        let filter = self.cfg.user_filter.replace("{user}", &escaped);
        let attrs = [
            self.cfg.name_attribute.as_str(),
            self.cfg.staff_number_attribute.as_str(),
            "memberOf",
        ];
        let (mut found, _) = ldap
            .search(&self.cfg.user_base, Scope::Subtree, &filter, attrs.to_vec())
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(failed)?;
        if found.len() > 1 {
            tracing::warn!(
                user,
                entries = found.len(),
                "the directory's user filter finds several entries: refused"
            );
        }
        let known = found.len() == 1;
        // A name the directory lacks goes through the same steps, against
        // an entry that does not exist, so that how long a refusal takes
        // does not tell which names it has.
        let entry = if known {
            SearchEntry::construct(found.remove(0))
        } else {
            SearchEntry {
                dn: format!("cn=hallcall-no-such-person,{}", self.cfg.user_base),
                attrs: std::collections::HashMap::new(),
                bin_attrs: std::collections::HashMap::new(),
            }
        };
        let filter = self
            .cfg
            .group_filter
            .replace("{dn}", &ldap_escape(entry.dn.as_str()))
            .replace("{user}", &escaped);
        let (in_groups, _) = ldap
            .search(&self.cfg.group_base, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(failed)?;
        let mut groups: Vec<String> = in_groups
            .into_iter()
            .map(|g| normal_dn(&SearchEntry::construct(g).dn))
            .chain(values(&entry, "memberOf").iter().map(|g| normal_dn(g)))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let bound = ldap
            .simple_bind(&entry.dn, password)
            .await
            .map_err(|e| DirectoryError::Unreachable(e.to_string()))?;
        let _ = ldap.unbind().await;
        if !known {
            return Ok(None);
        }
        match bound.rc {
            0 => {}
            INVALID_CREDENTIALS => return Ok(None),
            // Disabled, expired or locked accounts (AD says so in the
            // message) are refused as a wrong password is.
            rc @ (48..=53) => {
                tracing::info!(user, rc, message = %bound.text, "the directory refused the person's bind");
                return Ok(None);
            }
            _ => return Err(DirectoryError::Failed(bound.to_string())),
        }
        let first = |attr: &str| values(&entry, attr).first().cloned().unwrap_or_default();
        Ok(Some(Person {
            card: StaffCard {
                name: first(&self.cfg.name_attribute),
                staff_number: first(&self.cfg.staff_number_attribute),
                photo: String::new(),
            },
            dn: entry.dn,
            groups,
        }))
    }
}

/// An attribute's values, whatever case the server spells its name in.
fn values<'a>(entry: &'a SearchEntry, attr: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map_or(&[], |(_, v)| v.as_slice())
}
