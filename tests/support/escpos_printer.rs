//! A network thermal printer of a test's own (raw TCP, as on port 9100):
//! it answers the real-time status queries (`DLE EOT n`) as Epson's
//! reference describes, parses the ESC/POS stream that follows and keeps
//! what would come out: each line's text (decoded from GB18030 in Chinese
//! mode), which lines were printed large, the QR code's data (`GS ( k`),
//! and whether the paper was cut. Anything it does not know is an error.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One slip as it came out.
#[derive(Debug, Clone, Default)]
pub struct Printout {
    pub lines: Vec<String>,
    /// Lines printed at a size above normal.
    pub large: Vec<String>,
    pub qr: Option<String>,
    /// `GS ( k` model 2 and error correction as set before printing.
    pub qr_model: Option<u8>,
    pub cut: Option<&'static str>,
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Inner {
    printed: Mutex<Vec<Printout>>,
    /// DLE EOT 1's answer (bit 3: offline) and DLE EOT 4's (0x60: no paper).
    printer: AtomicU8,
    paper: AtomicU8,
}

pub struct Printer {
    pub address: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Parses one connection's bytes; answers status queries on `answer`.
struct Parser {
    out: Printout,
    line: Vec<u8>,
    size: u8,
    chinese: bool,
    stored: Option<Vec<u8>>,
}

impl Parser {
    fn end_line(&mut self) {
        let text = if self.chinese {
            encoding_rs::GB18030
                .decode_without_bom_handling(&self.line)
                .0
                .into_owned()
        } else {
            String::from_utf8_lossy(&self.line).into_owned()
        };
        if self.size != 0 && !text.is_empty() {
            self.out.large.push(text.clone());
        }
        self.out.lines.push(text);
        self.line.clear();
    }

    /// Consumes what it can of `b`; the number of bytes used (0: needs
    /// more), and a status query's answer to send.
    fn step(&mut self, b: &[u8], inner: &Inner) -> (usize, Option<u8>) {
        let need = |n: usize| b.len() >= n;
        match b[0] {
            0x10 if need(3) && b[1] == 0x04 => {
                let answer = match b[2] {
                    1 => inner.printer.load(Ordering::SeqCst),
                    4 => inner.paper.load(Ordering::SeqCst),
                    _ => 0x12,
                };
                (3, Some(answer))
            }
            0x1B if need(2) && b[1] == b'@' => (2, None),
            0x1B if need(3) && (b[1] == b'a' || b[1] == b'E') => (3, None),
            0x1D if need(3) && b[1] == b'!' => {
                self.size = b[2];
                (3, None)
            }
            0x1C if need(2) && b[1] == b'&' => {
                self.chinese = true;
                (2, None)
            }
            0x1C if need(2) && b[1] == b'.' => {
                self.chinese = false;
                (2, None)
            }
            0x1D if need(5) && b[1] == b'(' && b[2] == b'k' => {
                let len = b[3] as usize + 256 * b[4] as usize;
                if !need(5 + len) {
                    return (0, None);
                }
                let body = &b[5..5 + len];
                if body.first() != Some(&0x31) {
                    self.out.errors.push(format!("GS ( k cn {:?}", body.first()));
                }
                match body.get(1) {
                    Some(65) => self.out.qr_model = body.get(2).copied(),
                    Some(67 | 69) => {}
                    Some(80) if body.get(2) == Some(&0x30) => self.stored = Some(body[3..].to_vec()),
                    Some(81) => {
                        self.out.qr = self.stored.take().map(|d| String::from_utf8_lossy(&d).into_owned());
                    }
                    other => self.out.errors.push(format!("GS ( k fn {other:?}")),
                }
                (5 + len, None)
            }
            0x1D if need(3) && b[1] == b'V' => match b[2] {
                0 | 48 => {
                    self.out.cut = Some("full");
                    (3, None)
                }
                1 | 49 => {
                    self.out.cut = Some("partial");
                    (3, None)
                }
                65 | 66 if need(4) => {
                    self.out.cut = Some(if b[2] == 65 { "full" } else { "partial" });
                    (4, None)
                }
                65 | 66 => (0, None),
                m => {
                    self.out.errors.push(format!("GS V {m}"));
                    (3, None)
                }
            },
            0x0A => {
                self.end_line();
                (1, None)
            }
            0x10 | 0x1B | 0x1C | 0x1D if b.len() < 6 => (0, None),
            c if c < 0x20 => {
                self.out.errors.push(format!("unknown byte {c:#04x}"));
                (1, None)
            }
            c => {
                self.line.push(c);
                (1, None)
            }
        }
    }
}

async fn serve(mut s: tokio::net::TcpStream, inner: Arc<Inner>) {
    let mut p = Parser {
        out: Printout::default(),
        line: Vec::new(),
        size: 0,
        chinese: false,
        stored: None,
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut printed_anything = false;
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while at < buf.len() {
            let (used, answer) = p.step(&buf[at..], &inner);
            if used == 0 {
                break;
            }
            if let Some(a) = answer {
                let _ = s.write_all(&[a]).await;
            } else {
                printed_anything = true;
            }
            at += used;
        }
        buf.drain(..at);
    }
    if !buf.is_empty() {
        p.out.errors.push(format!("{} bytes left unread", buf.len()));
    }
    if printed_anything {
        inner.printed.lock().unwrap().push(p.out);
    }
}

impl Printer {
    pub async fn start() -> Printer {
        let inner = Arc::new(Inner::default());
        inner.printer.store(0x16, Ordering::SeqCst);
        inner.paper.store(0x12, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepting = inner.clone();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, accepting.clone()));
            }
        });
        Printer { address, inner, task }
    }

    pub fn printed(&self) -> Vec<Printout> {
        self.inner.printed.lock().unwrap().clone()
    }

    pub fn paper_out(&self, out: bool) {
        self.inner
            .paper
            .store(if out { 0x12 | 0x60 } else { 0x12 }, Ordering::SeqCst);
    }

    pub async fn until(&self, n: usize) -> Vec<Printout> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let p = self.printed();
            if p.len() >= n || tokio::time::Instant::now() > deadline {
                return p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
