//! A lean WebSocket screen: a plain TcpStream, the upgrade written by hand,
//! and server frames read straight out of one small buffer per connection.
//! A full WebSocket client was the bottleneck in earlier measurements here
//! (the client shares the two cores with the server), so this does only
//! what a screen needs: text frames, pongs for pings, nothing else.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http_client::find;

/// Any base64 of 16 bytes will do: the accept hash is not checked.
const KEY: &str = "aGFsbGNhbGwtbG9hZC0xMg==";
/// Client frames must be masked; the key may be constant.
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
/// Hall snapshots are a few KiB; nothing here comes near this.
const MAX_FRAME: usize = 4 << 20;
/// Most frames are under a KiB; the buffer grows only for a big snapshot.
const START_BUFFER: usize = 2048;

pub struct Display {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// What the next frame was.
pub enum Incoming {
    /// A text message: its bytes are `display.text(range)`.
    Text(Range<usize>),
    /// The server closed the connection (a close frame or end of stream).
    Closed,
}

impl Display {
    /// Connects and upgrades `path` (with its query) to a WebSocket. A
    /// token after `#` (a fragment, which HTTP never sends) goes in the
    /// `Authorization` header, as a program signs in.
    pub async fn connect(addr: SocketAddr, path: &str) -> anyhow::Result<Display> {
        let (path, auth) = match path.split_once('#') {
            Some((p, token)) => (p, format!("Authorization: Bearer {token}\r\n")),
            None => (path, String::new()),
        };
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .context("connect timed out")?
            .context("connect")?;
        stream.set_nodelay(true)?;
        let mut d = Display {
            stream,
            buf: vec![0; START_BUFFER],
            start: 0,
            end: 0,
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        d.stream
            .write_all(req.as_bytes())
            .await
            .context("sending the upgrade")?;
        let head_end = loop {
            if let Some(i) = find(&d.buf[..d.end], b"\r\n\r\n") {
                break i + 4;
            }
            if d.fill().await? == 0 {
                bail!("the server closed the connection during the upgrade");
            }
        };
        if !d.buf.starts_with(b"HTTP/1.1 101") {
            let head = String::from_utf8_lossy(&d.buf[..head_end]);
            bail!("upgrade refused: {}", head.lines().next().unwrap_or_default());
        }
        // A first frame may have come in the same read as the answer.
        d.start = head_end;
        Ok(d)
    }

    /// The bytes of a text message just returned.
    pub fn text(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// Reads until a text message or the end. Pings are answered with a
    /// pong; pongs, binary and other frames are skipped. Cancel-safe
    /// between frames: nothing is consumed until a read returns.
    pub async fn next(&mut self) -> anyhow::Result<Incoming> {
        loop {
            match self.parse()? {
                Some((opcode, payload)) => match opcode {
                    0x1 => return Ok(Incoming::Text(payload)),
                    0x8 => return Ok(Incoming::Closed),
                    0x9 => self.pong(payload).await?,
                    _ => {}
                },
                None => {
                    if self.fill().await? == 0 {
                        return Ok(Incoming::Closed);
                    }
                }
            }
        }
    }

    /// The next whole frame in the buffer, consumed: its opcode and where
    /// its payload lies (valid until the next read).
    fn parse(&mut self) -> anyhow::Result<Option<(u8, Range<usize>)>> {
        let b = &self.buf[self.start..self.end];
        if b.len() < 2 {
            return Ok(None);
        }
        let (fin, opcode) = (b[0] & 0x80 != 0, b[0] & 0x0f);
        if b[1] & 0x80 != 0 {
            bail!("the server sent a masked frame");
        }
        let (header, len) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (10, usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX))
            }
            126 | 127 => return Ok(None),
            n => (2, n as usize),
        };
        if len > MAX_FRAME {
            bail!("a frame of {len} bytes");
        }
        if !fin || opcode == 0 {
            // The servers measured here never fragment a message.
            bail!("a fragmented message (opcode {opcode}): not supported by this client");
        }
        if b.len() < header + len {
            if header + len > self.buf.len() {
                // Make room once for this frame; later frames reuse it.
                self.compact();
                self.buf.resize(header + len, 0);
            }
            return Ok(None);
        }
        let payload = self.start + header..self.start + header + len;
        self.start += header + len;
        Ok(Some((opcode, payload)))
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    async fn fill(&mut self) -> anyhow::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.compact();
            if self.end == self.buf.len() {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    async fn pong(&mut self, payload: Range<usize>) -> anyhow::Result<()> {
        // Control frames carry at most 125 bytes.
        let data = &self.buf[payload];
        let mut frame = Vec::with_capacity(6 + data.len());
        frame.push(0x8a);
        frame.push(0x80 | data.len() as u8);
        frame.extend_from_slice(&MASK);
        frame.extend(data.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        self.stream.write_all(&frame).await?;
        Ok(())
    }
}

/// The call tickets a delta names: the `"ticket"` values inside its
/// `"calls"` array (not the events' or windows'). Snapshots and other
/// messages name none: a screen counts a call only when its delta comes.
pub fn call_tickets(msg: &[u8], mut each: impl FnMut(&[u8])) -> bool {
    if !msg.starts_with(br#"{"type":"delta""#) {
        return false;
    }
    let Some(at) = find(msg, br#""calls":["#) else {
        return false;
    };
    let mut rest = &msg[at + 9..];
    // Call objects hold no arrays: the first ']' ends the list.
    if let Some(end) = rest.iter().position(|&b| b == b']') {
        rest = &rest[..end];
    }
    let mut any = false;
    while let Some(i) = find(rest, br#""ticket":""#) {
        rest = &rest[i + 10..];
        let Some(q) = rest.iter().position(|&b| b == b'"') else {
            break;
        };
        each(&rest[..q]);
        any = true;
        rest = &rest[q..];
    }
    any
}

/// The number part of a ticket such as `A000123`.
pub fn ticket_number(t: &[u8]) -> Option<u32> {
    let digits = t.iter().position(u8::is_ascii_digit)?;
    std::str::from_utf8(&t[digits..]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_calls_of_a_delta() {
        let delta = br#"{"type":"delta","from":4,"seq":4,"events":[{"seq":4,"kind":{"type":"TicketCalled","ticket":"A000009","window":1}}],"calls":[{"ticket":"A000002","window":1,"zone":"general"},{"ticket":"A000003","window":2}],"windows":[{"number":1,"current":"A000007"}]}"#;
        let mut seen = Vec::new();
        assert!(call_tickets(delta, |t| seen.push(ticket_number(t).unwrap())));
        assert_eq!(seen, [2, 3]);
        let snap = br#"{"type":"snapshot","calls":[{"ticket":"A000002"}]}"#;
        assert!(!call_tickets(snap, |_| panic!("snapshot calls are not deliveries")));
        let no_calls = br#"{"type":"delta","calls":[],"windows":[{"current":"A000001"}]}"#;
        assert!(!call_tickets(no_calls, |_| panic!("no call")));
    }
}
