//! Devices signed in to a hall for good: hall displays, LED strips,
//! kiosks and window evaluators. Each sign-in of a device account, or each
//! pairing approved on the supervisor board, pairs one device; its token
//! is valid only while the hall keeps it, so an administrator can revoke
//! one device (a stolen tablet) without touching the others. Kept across
//! business days, like bookings, and replayed like everything else.
//!
//! The engine checks only the shape of what it keeps: the shell chooses a
//! device's id (random) and knows which accounts exist.

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::event::EventKind;
use super::hall::Hall;
use super::ids::Millis;

/// At most this many devices per hall: a county hall has a few dozen.
pub const MAX_DEVICES: usize = 1000;
/// A device's id is 8 to this many ASCII letters, digits and `-`.
pub const MAX_DEVICE_ID: usize = 64;
/// A device's name (where it stands: "东门 LED") and its account's name.
pub const MAX_DEVICE_NAME: usize = 64;

/// A device the hall keeps signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    /// The account it acts as (its role and windows come from there).
    pub account: String,
    /// What people call it; may be empty.
    pub name: String,
    pub paired_at: Millis,
}

impl Hall {
    /// The device with this id, if the hall keeps it.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.st.devices.get(id)
    }

    /// Every device the hall keeps, by id.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.st.devices.values()
    }

    pub(super) fn decide_pair(&self, device: &str, account: &str, name: &str) -> Result<EventKind, EngineError> {
        let id_ok = (8..=MAX_DEVICE_ID).contains(&device.len())
            && device.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !id_ok {
            return Err(EngineError::BadDevice(format!(
                "a device id is 8 to {MAX_DEVICE_ID} ASCII letters, digits and '-'"
            )));
        }
        if account.is_empty() || account.chars().count() > MAX_DEVICE_NAME {
            return Err(EngineError::BadDevice(format!(
                "a device's account is 1 to {MAX_DEVICE_NAME} characters"
            )));
        }
        if name.chars().count() > MAX_DEVICE_NAME || name.contains('\n') || super::text::first_forbidden(name).is_some()
        {
            return Err(EngineError::BadDevice(format!(
                "a device's name is one line of at most {MAX_DEVICE_NAME} characters, none of them control, \
                 bidirectional or zero-width characters"
            )));
        }
        if self.st.devices.contains_key(device) {
            return Err(EngineError::BadDevice(format!("device {device} is paired already")));
        }
        if self.st.devices.len() >= MAX_DEVICES {
            return Err(EngineError::TooManyDevices(MAX_DEVICES));
        }
        Ok(EventKind::DevicePaired {
            device: device.to_owned(),
            account: account.to_owned(),
            name: name.trim().to_owned(),
        })
    }

    pub(super) fn decide_revoke(&self, device: &str) -> Result<EventKind, EngineError> {
        if !self.st.devices.contains_key(device) {
            return Err(EngineError::UnknownDevice(device.to_owned()));
        }
        Ok(EventKind::DeviceRevoked {
            device: device.to_owned(),
        })
    }

    pub(super) fn apply_pair(&mut self, device: &str, account: &str, name: &str, at: Millis) -> Result<(), String> {
        if self.st.devices.contains_key(device) {
            return Err(format!("device {device} paired twice"));
        }
        self.st.devices.insert(
            device.to_owned(),
            Device {
                id: device.to_owned(),
                account: account.to_owned(),
                name: name.to_owned(),
                paired_at: at,
            },
        );
        Ok(())
    }

    pub(super) fn apply_revoke(&mut self, device: &str) -> Result<(), String> {
        self.st
            .devices
            .remove(device)
            .map(|_| ())
            .ok_or_else(|| format!("device {device} revoked but never paired"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Command;
    use crate::engine::tests::{config, local, local_on};

    fn pair(id: &str, account: &str) -> Command {
        Command::PairDevice {
            device: id.into(),
            account: account.into(),
            name: "东门 LED".into(),
        }
    }

    #[test]
    fn a_paired_device_is_kept_across_days_until_revoked() {
        let mut h = Hall::new(config());
        let events = h.execute(&pair("dev-0001", "display"), local(9, 0)).unwrap();
        assert!(matches!(events.last().unwrap().kind, EventKind::DevicePaired { .. }));
        let d = h.device("dev-0001").unwrap();
        assert_eq!((d.account.as_str(), d.name.as_str()), ("display", "东门 LED"));

        // The next business day keeps it, and so do replay and snapshots.
        let mut log = events;
        log.extend(h.execute(&Command::Tick, local_on(25, 9, 0)).unwrap());
        assert!(h.device("dev-0001").is_some());
        let mut replayed = Hall::new(h.spec().clone());
        for e in &log {
            replayed.apply(e).unwrap();
        }
        assert_eq!(replayed, h);
        assert_eq!(Hall::restore(h.spec().clone(), &h.snapshot()).unwrap(), h);

        h.execute(
            &Command::RevokeDevice {
                device: "dev-0001".into(),
            },
            local_on(25, 9, 5),
        )
        .unwrap();
        assert!(h.device("dev-0001").is_none());
        assert_eq!(Hall::restore(h.spec().clone(), &h.snapshot()).unwrap(), h);
    }

    #[test]
    fn what_cannot_be_paired_or_revoked_is_refused_and_changes_nothing() {
        let mut h = Hall::new(config());
        h.execute(&pair("dev-0001", "display"), local(9, 0)).unwrap();
        let seq = h.seq();
        for (cmd, code) in [
            (pair("dev-0001", "display"), "bad_device"),
            (pair("short", "display"), "bad_device"),
            (pair("dev 0002 x", "display"), "bad_device"),
            (pair("dev-0002", ""), "bad_device"),
            (
                Command::PairDevice {
                    device: "dev-0003".into(),
                    account: "kiosk".into(),
                    name: "x\u{7}".into(),
                },
                "bad_device",
            ),
            (
                Command::RevokeDevice {
                    device: "dev-9999".into(),
                },
                "unknown_device",
            ),
        ] {
            assert_eq!(h.execute(&cmd, local(9, 1)).unwrap_err().code(), code, "{cmd:?}");
        }
        assert_eq!(h.seq(), seq);
    }

    #[test]
    fn a_hall_keeps_a_bounded_number_of_devices() {
        let mut h = Hall::new(config());
        for i in 0..MAX_DEVICES {
            h.execute(&pair(&format!("dev-{i:05}"), "display"), local(9, 0))
                .unwrap();
        }
        let e = h.execute(&pair("dev-extra", "display"), local(9, 0)).unwrap_err();
        assert_eq!(e.code(), "too_many_devices");
    }
}
