//! The announcer: every call and recall, in log order, composed and handed
//! to the outputs one at a time. It is a subscriber of the durable event
//! stream: nothing is announced before it is stored, and nothing is
//! dropped (a subscriber that falls behind reads what it missed).

use std::sync::Arc;

use super::clips::Clips;
use super::compose::compose;
use super::wav::encode_wav;
use crate::config::Voice;
use crate::engine::{EventKind, HallId, TicketNumber, WindowNo};
use crate::store::{Batch, Change, Subscription};

/// A call to announce.
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

    /// The clips announcements are made of (to check a new voice template).
    pub fn clips(&self) -> &Clips {
        &self.clips
    }

    pub fn samples(&self, voice: &Voice, ticket: TicketNumber, window: WindowNo) -> Result<Vec<f32>, String> {
        compose(&self.clips, voice, ticket, window)
    }

    /// The announcement as text per language, said once (see `script::spoken`).
    pub fn text(
        &self,
        voice: &Voice,
        ticket: TicketNumber,
        window: WindowNo,
    ) -> Result<Vec<(crate::config::Lang, String)>, String> {
        super::script::spoken(voice, ticket, window, &|c| self.clips.has(c))
    }

    /// The announcement as a WAV file.
    ///
    /// # Errors
    /// A clip is missing.
    pub fn wav(&self, voice: &Voice, ticket: TicketNumber, window: WindowNo) -> Result<Vec<u8>, String> {
        self.samples(voice, ticket, window).map(|s| encode_wav(&s))
    }
}

/// The calls and recalls of a durable batch, in order.
pub fn calls_in(batch: &Batch) -> impl Iterator<Item = CallMade> + '_ {
    batch.events.iter().filter_map(|e| match &e.kind {
        EventKind::TicketCalled { ticket, window, .. } => Some(CallMade {
            hall: batch.hall,
            ticket: *ticket,
            window: *window,
            recall: 0,
        }),
        EventKind::TicketRecalled { ticket, window, count } => Some(CallMade {
            hall: batch.hall,
            ticket: *ticket,
            window: *window,
            recall: *count,
        }),
        _ => None,
    })
}

/// Announces every call and recall of the halls `voice_of` gives a voice
/// for (read at each batch, so a new configuration's voice is used from
/// its next call), in log order, through `output`. Ends when the stream does.
pub fn spawn_announcer(
    announcer: Announcer,
    voice_of: impl Fn(HallId) -> Option<Voice> + Send + 'static,
    mut changes: Subscription,
    mut output: Box<dyn Output>,
    plays_here: impl Fn(HallId) -> bool + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            let Change::Batch(batch) = change else {
                continue;
            };
            let Some(voice) = voice_of(batch.hall) else {
                continue;
            };
            // With several nodes, the hall's owner speaks; the others
            // only follow its events.
            if !plays_here(batch.hall) {
                continue;
            }
            for call in calls_in(&batch) {
                match announcer.samples(&voice, call.ticket, call.window) {
                    Ok(samples) => output.play(Announcement {
                        call,
                        samples: Arc::from(samples),
                    }),
                    Err(e) => {
                        tracing::error!(hall = %call.hall, ticket = %call.ticket, error = %e, "cannot compose the announcement")
                    }
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
        use crate::engine::tests::{code, config, local};
        use crate::engine::{Channel, Command, Hall, Issue};
        let clips =
            Arc::new(Clips::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sounds"))).unwrap());
        let mut hall = Hall::new(config());
        let id = hall.spec().id;
        let stream = crate::store::Stream::for_tests(vec![hall.clone()]);
        let voice = Voice {
            languages: vec![(Lang::Zh, ZH_TEMPLATE.into())],
            ..Voice::default()
        };
        let heard = Arc::new(Mutex::new(Vec::new()));
        let task = spawn_announcer(
            Announcer::new(clips.clone()),
            {
                let voice = voice.clone();
                move |h| (h == id).then(|| voice.clone())
            },
            stream.subscribe(),
            Box::new(Collect(heard.clone())),
            |_| true,
        );
        // A node that does not own the hall stays silent.
        let elsewhere = Arc::new(Mutex::new(Vec::new()));
        let silent = spawn_announcer(
            Announcer::new(clips),
            move |h| (h == id).then(|| voice.clone()),
            stream.subscribe(),
            Box::new(Collect(elsewhere.clone())),
            |_| false,
        );
        // 100 calls and every tenth recalled, committed as the writer
        // does: many batches, some with several calls.
        let mut run = |cmds: &[Command], sent: &mut Vec<CallMade>| {
            let mut events = Vec::new();
            for cmd in cmds {
                events.extend(hall.execute(cmd, local(10, 0)).unwrap());
            }
            let batch = stream.commit(id, events).unwrap();
            sent.extend(calls_in(&batch));
            stream.publish([batch]);
        };
        let mut sent = Vec::new();
        let issue = Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
        run(&vec![issue; 100], &mut sent);
        run(&[Command::Open { window: 1, staff: None }], &mut sent);
        for i in 1..=100u32 {
            let mut cmds = vec![Command::CallNext { window: 1 }];
            if i % 10 == 0 {
                cmds.push(Command::Recall { window: 1 });
            }
            cmds.push(Command::Skip { window: 1 });
            run(&cmds, &mut sent);
        }
        assert_eq!(sent.iter().filter(|c| c.recall == 0).count(), 100);
        assert_eq!(sent.iter().filter(|c| c.recall > 0).count(), 10);
        drop(stream);
        task.await.unwrap();
        silent.await.unwrap();
        assert!(elsewhere.lock().unwrap().is_empty(), "a node not owning the hall spoke");
        let heard = heard.lock().unwrap();
        let calls: Vec<CallMade> = heard.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(calls, sent, "every call, recalls included, in order");
        assert!(
            heard.iter().all(|(_, len)| *len > super::super::RATE as usize),
            "each lasts over a second"
        );
    }
}
