//! Frames. Server frames are never masked, so one encoding serves every
//! client. Client frames are always masked; they are decoded as they
//! arrive, a few bytes at a time if need be, with no buffer kept between
//! messages.

use bytes::{BufMut, Bytes, BytesMut};

const FIN: u8 = 0x80;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A frame this large is refused outright (the connection closes); smaller
/// ones over the message limit are read past and reported.
pub const MAX_FRAME: u64 = 1 << 20;

fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(payload.len() + 10);
    b.put_u8(FIN | opcode);
    match payload.len() {
        n if n < 126 => b.put_u8(n as u8),
        n if n <= 0xFFFF => {
            b.put_u8(126);
            b.put_u16(n as u16);
        }
        n => {
            b.put_u8(127);
            b.put_u64(n as u64);
        }
    }
    b.put_slice(payload);
    b.freeze()
}

/// A complete text frame holding `text`.
pub fn text_frame(text: &str) -> Bytes {
    frame(TEXT, text.as_bytes())
}

pub fn ping_frame() -> Bytes {
    Bytes::from_static(&[FIN | PING, 0])
}

/// The answer to a ping: its payload back (at most 125 bytes).
pub fn pong_frame(payload: &[u8]) -> Bytes {
    frame(PONG, &payload[..payload.len().min(125)])
}

pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut p = code.to_be_bytes().to_vec();
    p.extend(reason.as_bytes().iter().take(123));
    frame(CLOSE, &p)
}

/// The text of a frame made by [`text_frame`] (for tests and logs).
pub fn text_payload(frame: &[u8]) -> &str {
    let start = match frame.get(1).map(|b| b & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    std::str::from_utf8(frame.get(start..).unwrap_or_default()).unwrap_or("")
}

/// What a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole text message within the limit (not checked for UTF-8).
    Text(Vec<u8>),
    /// A whole message over the limit: its length; its bytes were dropped.
    TooLarge(usize),
    Binary,
    Ping(Vec<u8>),
    Pong,
    /// The client is closing, with its status code if it gave one.
    Close(Option<u16>),
}

/// A client broke the protocol: the connection must close (1002, or 1009
/// for a frame too large to read past).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("client frames must be masked")]
    Unmasked,
    #[error("reserved bits set")]
    Reserved,
    #[error("unknown opcode {0:#x}")]
    Opcode(u8),
    #[error("a control frame must be whole and at most 125 bytes")]
    Control,
    #[error("a continuation without a message, or a new message inside one")]
    Fragments,
    #[error("a frame of {0} bytes")]
    TooLarge(u64),
}

impl ProtocolError {
    /// The close code to send.
    pub fn close_code(self) -> u16 {
        match self {
            ProtocolError::TooLarge(_) => 1009,
            _ => 1002,
        }
    }
}

/// A streaming decoder of client frames.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Messages longer than this are reported as [`Incoming::TooLarge`].
    limit: usize,
    head: [u8; 14],
    head_len: usize,
    in_frame: bool,
    opcode: u8,
    fin: bool,
    remaining: u64,
    mask: [u8; 4],
    mask_pos: usize,
    control: Vec<u8>,
    /// The data message being assembled (over one or more frames).
    msg: Vec<u8>,
    msg_opcode: Option<u8>,
    msg_len: usize,
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            limit,
            ..Decoder::default()
        }
    }

    fn header_len(&self) -> usize {
        if self.head_len < 2 {
            return 2;
        }
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    /// Decodes `data`, appending each complete message to `out`.
    ///
    /// # Errors
    /// The client broke the protocol; decoding cannot continue.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Incoming>) -> Result<(), ProtocolError> {
        while !data.is_empty() {
            if !self.in_frame {
                let need = self.header_len();
                let take = (need - self.head_len).min(data.len());
                self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
                self.head_len += take;
                data = &data[take..];
                // The second byte can lengthen the header: ask again.
                if self.head_len < self.header_len() {
                    continue;
                }
                self.start_frame()?;
                if self.remaining == 0 {
                    self.end_frame(out);
                }
                continue;
            }
            let take = (self.remaining.min(data.len() as u64)) as usize;
            let chunk = &data[..take];
            let is_control = self.opcode >= CLOSE;
            let keep = if is_control {
                true
            } else {
                self.msg_len += take;
                if self.msg_len > self.limit {
                    // Past the limit: drop what was kept, skip the rest.
                    self.msg = Vec::new();
                    false
                } else {
                    true
                }
            };
            if keep {
                let buf = if is_control { &mut self.control } else { &mut self.msg };
                buf.extend(
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ self.mask[(self.mask_pos + i) % 4]),
                );
            }
            self.mask_pos += take;
            self.remaining -= take as u64;
            data = &data[take..];
            if self.remaining == 0 {
                self.end_frame(out);
            }
        }
        Ok(())
    }

    fn start_frame(&mut self) -> Result<(), ProtocolError> {
        let (b0, b1) = (self.head[0], self.head[1]);
        if b0 & 0x70 != 0 {
            return Err(ProtocolError::Reserved);
        }
        if b1 & 0x80 == 0 {
            return Err(ProtocolError::Unmasked);
        }
        let (len, at) = match b1 & 0x7f {
            126 => (u64::from(u16::from_be_bytes([self.head[2], self.head[3]])), 4),
            127 => {
                let mut l = [0u8; 8];
                l.copy_from_slice(&self.head[2..10]);
                (u64::from_be_bytes(l), 10)
            }
            n => (u64::from(n), 2),
        };
        self.mask.copy_from_slice(&self.head[at..at + 4]);
        self.head_len = 0;
        self.fin = b0 & FIN != 0;
        self.opcode = b0 & 0x0f;
        match self.opcode {
            CLOSE | PING | PONG => {
                if !self.fin || len > 125 {
                    return Err(ProtocolError::Control);
                }
            }
            0 if self.msg_opcode.is_none() => return Err(ProtocolError::Fragments),
            0 => {}
            TEXT | BINARY if self.msg_opcode.is_some() => return Err(ProtocolError::Fragments),
            TEXT | BINARY => {
                self.msg_opcode = Some(self.opcode);
                self.msg_len = 0;
                self.msg.clear();
            }
            other => return Err(ProtocolError::Opcode(other)),
        }
        if len > MAX_FRAME {
            return Err(ProtocolError::TooLarge(len));
        }
        self.in_frame = true;
        self.remaining = len;
        self.mask_pos = 0;
        Ok(())
    }

    fn end_frame(&mut self, out: &mut Vec<Incoming>) {
        self.in_frame = false;
        match self.opcode {
            CLOSE => {
                let code = (self.control.len() >= 2).then(|| u16::from_be_bytes([self.control[0], self.control[1]]));
                out.push(Incoming::Close(code));
            }
            PING => out.push(Incoming::Ping(std::mem::take(&mut self.control))),
            PONG => out.push(Incoming::Pong),
            _ if self.fin => {
                let kind = self.msg_opcode.take();
                out.push(if self.msg_len > self.limit {
                    Incoming::TooLarge(self.msg_len)
                } else if kind == Some(TEXT) {
                    Incoming::Text(std::mem::take(&mut self.msg))
                } else {
                    self.msg = Vec::new();
                    Incoming::Binary
                });
            }
            _ => {}
        }
        self.control.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with `key`.
    fn client(opcode: u8, fin: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut v = vec![if fin { FIN } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => v.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                v.push(0x80 | 126);
                v.extend((n as u16).to_be_bytes());
            }
            n => {
                v.push(0x80 | 127);
                v.extend((n as u64).to_be_bytes());
            }
        }
        v.extend(key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        v
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize, limit: usize) -> Result<Vec<Incoming>, ProtocolError> {
        let mut d = Decoder::new(limit);
        let mut out = Vec::new();
        for chunk in bytes.chunks(piece) {
            d.feed(chunk, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn server_frames_have_the_right_length_encodings() {
        assert_eq!(&text_frame("hi")[..], &[0x81, 2, b'h', b'i']);
        let mid = text_frame(&"x".repeat(300));
        assert_eq!(&mid[..4], &[0x81, 126, 1, 44]);
        assert_eq!(text_payload(&mid).len(), 300);
        let big = text_frame(&"y".repeat(70_000));
        assert_eq!(&big[..2], &[0x81, 127]);
        assert_eq!(text_payload(&big).len(), 70_000);
        assert_eq!(&close_frame(1001, "bye")[..], &[0x88, 5, 0x03, 0xE9, b'b', b'y', b'e']);
    }

    #[test]
    fn messages_decode_whatever_the_read_sizes() {
        let mut bytes = client(TEXT, true, br#"{"type":"ping"}"#, [1, 2, 3, 4]);
        bytes.extend(client(PING, true, b"abc", [9, 9, 9, 9]));
        bytes.extend(client(TEXT, false, b"hel", [5, 6, 7, 8]));
        bytes.extend(client(PONG, true, b"", [1, 1, 1, 1]));
        bytes.extend(client(0, true, b"lo", [0, 0, 0, 1]));
        bytes.extend(client(TEXT, true, &vec![b'z'; 300], [7, 7, 7, 7]));
        bytes.extend(client(CLOSE, true, &1000u16.to_be_bytes(), [2, 2, 2, 2]));
        let want = vec![
            Incoming::Text(br#"{"type":"ping"}"#.to_vec()),
            Incoming::Ping(b"abc".to_vec()),
            Incoming::Pong,
            Incoming::Text(b"hello".to_vec()),
            Incoming::Text(vec![b'z'; 300]),
            Incoming::Close(Some(1000)),
        ];
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                decode_in_pieces(&bytes, piece, 4096).unwrap(),
                want,
                "read {piece} bytes at a time"
            );
        }
    }

    #[test]
    fn an_oversized_message_is_skipped_and_the_next_one_still_decodes() {
        let mut bytes = client(TEXT, true, &vec![b'a'; 70_000], [3, 1, 4, 1]);
        bytes.extend(client(TEXT, true, b"ok", [2, 7, 1, 8]));
        let out = decode_in_pieces(&bytes, 1000, 4096).unwrap();
        assert_eq!(out, vec![Incoming::TooLarge(70_000), Incoming::Text(b"ok".to_vec())]);
    }

    #[test]
    fn protocol_violations_are_refused() {
        let unmasked = [0x81, 1, b'x'];
        assert_eq!(decode_in_pieces(&unmasked, 10, 10), Err(ProtocolError::Unmasked));
        let huge = client(TEXT, true, &[], [0; 4]);
        let mut huge = huge[..2].to_vec();
        huge[1] = 0x80 | 127;
        huge.extend((MAX_FRAME + 1).to_be_bytes());
        huge.extend([0; 4]);
        assert_eq!(
            decode_in_pieces(&huge, 100, 10),
            Err(ProtocolError::TooLarge(MAX_FRAME + 1))
        );
        assert_eq!(
            decode_in_pieces(&client(0, true, b"x", [0; 4]), 10, 10),
            Err(ProtocolError::Fragments)
        );
        assert_eq!(
            decode_in_pieces(&client(PING, false, b"x", [0; 4]), 10, 10),
            Err(ProtocolError::Control)
        );
        assert_eq!(
            decode_in_pieces(&client(0x3, true, b"", [0; 4]), 10, 10),
            Err(ProtocolError::Opcode(3))
        );
        let mut reserved = client(TEXT, true, b"x", [0; 4]);
        reserved[0] |= 0x40;
        assert_eq!(decode_in_pieces(&reserved, 10, 10), Err(ProtocolError::Reserved));
    }
}
