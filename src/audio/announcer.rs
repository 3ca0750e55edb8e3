//! The announcer: every call and recall, in the order the hub published
//! them, composed and handed to the outputs one at a time. Nothing is
//! dropped: the hub sends calls on an unbounded channel, and composing
//! takes about a millisecond.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::clips::Clips;
use super::compose::compose;
use super::wav::encode_wav;
use crate::config::Voice;
use crate::engine::{HallId, TicketNumber, WindowNo};

/// A call to announce, as the hub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMade {
    pub hall: HallId,
    pub ticket: TicketNumber,
    pub window: WindowNo,
    /// 0 for a first call, then the recall count.
    pub recall: u32,
}

/// One announcement, ready to play.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub call: CallMade,
    /// Mono samples at [`super::RATE`].
    pub samples: Arc<[f32]>,
}

/// Where announcements go. `play` is called in call order and must keep
/// that order (queue, not mix).
pub trait Output: Send + 'static {
    fn play(&mut self, a: Announcement);
}

/// Composes announcements for the HTTP endpoint and the device.
#[derive(Debug, Clone)]
pub struct Announcer {
    clips: Arc<Clips>,
}

impl Announcer {
    pub fn new(clips: Arc<Clips>) -> Announcer {
        Announcer { clips }
    }

    pub fn samples(&self, voice: &Voice, ticket: TicketNumber, window: WindowNo) -> Result<Vec<f32>, String> {
        compose(&self.clips, voice, ticket, window)
    }

    /// The announcement as a WAV file.
    ///
    /// # Errors
    /// A clip is missing.
    pub fn wav(&self, voice: &Voice, ticket: TicketNumber, window: WindowNo) -> Result<Vec<u8>, String> {
        self.samples(voice, ticket, window).map(|s| encode_wav(&s))
    }
}

/// Announces every call received on `calls` for the halls in `voices`, in
/// order, through `output`. Ends when the channel closes.
pub fn spawn_announcer(
    announcer: Announcer,
    voices: HashMap<HallId, Voice>,
    mut calls: mpsc::UnboundedReceiver<CallMade>,
    mut output: Box<dyn Output>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(call) = calls.recv().await {
            let Some(voice) = voices.get(&call.hall) else {
                continue;
            };
            match announcer.samples(voice, call.ticket, call.window) {
                Ok(samples) => output.play(Announcement {
                    call,
                    samples: Arc::from(samples),
                }),
                Err(e) => {
                    tracing::error!(hall = %call.hall, ticket = %call.ticket, error = %e, "cannot compose the announcement")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::{Lang, ZH_TEMPLATE};

    struct Collect(Arc<Mutex<Vec<(CallMade, usize)>>>);

    impl Output for Collect {
        fn play(&mut self, a: Announcement) {
            self.0.lock().unwrap().push((a.call, a.samples.len()));
        }
    }

    #[tokio::test]
    async fn a_burst_of_calls_is_announced_in_order_and_none_is_lost() {
        let clips =
            Arc::new(Clips::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))).unwrap());
        let hall = HallId::new("hall").unwrap();
        let voice = Voice {
            languages: vec![(Lang::Zh, ZH_TEMPLATE.into())],
            ..Voice::default()
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let task = spawn_announcer(
            Announcer::new(clips),
            HashMap::from([(hall, voice)]),
            rx,
            Box::new(Collect(heard.clone())),
        );
        let mut sent = Vec::new();
        for i in 1..=100u32 {
            let call = CallMade {
                hall,
                ticket: format!("A{i:03}").parse().unwrap(),
                window: (i % 29 + 1) as u16,
                recall: u32::from(i % 10 == 0),
            };
            sent.push(call.clone());
            tx.send(call).unwrap();
        }
        drop(tx);
        task.await.unwrap();
        let heard = heard.lock().unwrap();
        let calls: Vec<CallMade> = heard.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(calls, sent, "every call, recalls included, in order");
        assert!(
            heard.iter().all(|(_, len)| *len > super::super::RATE as usize),
            "each lasts over a second"
        );
    }
}
