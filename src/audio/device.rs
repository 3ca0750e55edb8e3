//! The server's sound card (cargo feature `audio-output`): announcements
//! are queued on one rodio player on its own thread, so they play one at a
//! time, in order, without holding up the server.

use std::num::NonZero;

use super::RATE;
use super::announcer::{Announcement, Output};

pub struct Device {
    tx: std::sync::mpsc::Sender<Announcement>,
}

impl Device {
    /// Opens the default output device.
    ///
    /// # Errors
    /// No device, or it cannot be opened (a server without a sound card).
    pub fn open() -> Result<Device, String> {
        let (tx, rx) = std::sync::mpsc::channel::<Announcement>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("hallcall-audio".into())
            .spawn(move || {
                let sink = match rodio::DeviceSinkBuilder::open_default_sink() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let player = rodio::Player::connect_new(sink.mixer());
                let _ = ready_tx.send(Ok(()));
                let (one, rate) = (NonZero::<u16>::MIN, NonZero::new(RATE).unwrap_or(NonZero::<u32>::MIN));
                while let Ok(a) = rx.recv() {
                    player.append(rodio::buffer::SamplesBuffer::new(one, rate, a.samples.to_vec()));
                }
                player.sleep_until_end();
            })
            .map_err(|e| e.to_string())?;
        ready_rx.recv().map_err(|_| "the audio thread ended".to_owned())??;
        Ok(Device { tx })
    }
}

impl Output for Device {
    fn play(&mut self, a: Announcement) {
        // The thread ends only with the process.
        let _ = self.tx.send(a);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn opening_the_sound_card_never_panics() {
        // CI machines have no sound card: opening must fail with an error,
        // and a machine with one must open it.
        match super::Device::open() {
            Ok(_) => {}
            Err(e) => assert!(!e.is_empty()),
        }
    }
}
