//! Paced calls: each worker holds one keep-alive connection and makes its
//! calls at their planned instants, recording the instant each request was
//! sent. The same plan drives hallcall (call-next, then start and finish
//! later) and the baseline (a call message, then two window messages).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::baseline::{call_message, other_message};
use crate::hallcall_server::{Tokens, hall_id, window};
use crate::http_client::HttpConn;
use crate::screens::call_key;

/// Who is called, and how.
pub enum Caller {
    Hallcall { tokens: Arc<Vec<Tokens>> },
    Baseline { call_size: usize, other_size: usize },
}

/// One planned call.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub at: Instant,
    pub hall: usize,
    pub window: u16,
    /// The baseline's ticket number for this call (hallcall picks its own).
    pub seq: u32,
    /// When to serve the ticket out (start and finish), freeing the window.
    pub serve_out_at: Option<Instant>,
}

/// The calls made: each one's key and send instant.
#[derive(Debug, Default)]
pub struct Sends {
    pub at: HashMap<u32, Instant>,
    /// How late the latest call went out against its plan (the caller or
    /// the server falling behind).
    pub max_late: Duration,
    pub last: Option<Instant>,
    /// How long each call's request took to be answered, microseconds,
    /// sorted. hallcall answers once the call is durable (journal fsync),
    /// which is also the earliest a screen can be told.
    pub answer_us: Vec<u64>,
}

impl Caller {
    async fn call(&self, c: &mut HttpConn, s: &Slot) -> anyhow::Result<u32> {
        match self {
            Caller::Hallcall { tokens } => {
                let t = window(c, &hall_id(s.hall), s.window, "call-next", &tokens[s.hall].admin)
                    .await?
                    .with_context(|| format!("call-next on window {} called no ticket", s.window))?;
                Ok(call_key(s.hall as u32, t))
            }
            Caller::Baseline { call_size, .. } => {
                let body = call_message(s.seq, *call_size);
                post(c, s.hall, body).await?;
                Ok(call_key(s.hall as u32, s.seq))
            }
        }
    }

    async fn serve_out(&self, c: &mut HttpConn, s: &Slot) -> anyhow::Result<()> {
        match self {
            Caller::Hallcall { tokens } => {
                let (hall, admin) = (hall_id(s.hall), &tokens[s.hall].admin);
                window(c, &hall, s.window, "start", admin).await?;
                window(c, &hall, s.window, "finish", admin).await?;
            }
            Caller::Baseline { other_size, .. } => {
                post(c, s.hall, other_message(*other_size)).await?;
                post(c, s.hall, other_message(*other_size)).await?;
            }
        }
        Ok(())
    }
}

async fn post(c: &mut HttpConn, hall: usize, body: String) -> anyhow::Result<()> {
    let status = c
        .request("POST", &format!("/call/{hall}"), None, Some(body.as_bytes()))
        .await?;
    if status != 200 {
        bail!("baseline POST /call/{hall}: {status}");
    }
    Ok(())
}

/// Runs every worker's slots (each list in time order) and gathers when
/// each call was sent.
pub async fn drive(addr: SocketAddr, caller: Arc<Caller>, workers: Vec<Vec<Slot>>) -> anyhow::Result<Sends> {
    let mut tasks = tokio::task::JoinSet::new();
    for slots in workers.into_iter().filter(|w| !w.is_empty()) {
        let caller = caller.clone();
        tasks.spawn(async move {
            let mut c = HttpConn::connect(addr).await?;
            let mut sent = Vec::with_capacity(slots.len());
            for s in &slots {
                tokio::time::sleep_until(s.at.into()).await;
                let t0 = Instant::now();
                let key = caller.call(&mut c, s).await?;
                let answer = t0.elapsed().as_micros() as u64;
                sent.push((key, t0, t0.saturating_duration_since(s.at), answer));
                if let Some(t) = s.serve_out_at {
                    tokio::time::sleep_until(t.into()).await;
                    caller.serve_out(&mut c, s).await?;
                }
            }
            anyhow::Ok(sent)
        });
    }
    let mut out = Sends::default();
    while let Some(r) = tasks.join_next().await {
        for (key, t0, late, answer) in r.context("a calling task failed")?? {
            out.answer_us.push(answer);
            if out.at.insert(key, t0).is_some() {
                bail!("call {key:#x} was made twice");
            }
            out.max_late = out.max_late.max(late);
            out.last = Some(out.last.map_or(t0, |l| l.max(t0)));
        }
    }
    out.answer_us.sort_unstable();
    Ok(out)
}
