//! A hand-written HTTP/1.1 keep-alive client: one request at a time per
//! connection, one reused buffer each way. The load client shares two cores
//! with the server, so it does no more than write the request and read the
//! status line, the headers it needs and a Content-Length body.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request that takes longer than this is a failure, not a sample.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers here are at most a few KiB; anything this big is a bug.
const MAX_RESPONSE: usize = 16 << 20;

pub struct HttpConn {
    stream: TcpStream,
    host: String,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Where the last answer's body lies in `buf`.
    body: std::ops::Range<usize>,
    /// Bytes of `buf` the last answer used, removed before the next one.
    used: usize,
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl HttpConn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .with_context(|| format!("connecting to {addr} timed out"))?
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            host: addr.to_string(),
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(4096),
            body: 0..0,
            used: 0,
        })
    }

    /// The last answer's body.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Sends one request and reads its answer; returns the status. A JSON
    /// body is sent with its content type.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> anyhow::Result<u16> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, token, body)).await {
            Ok(r) => r.with_context(|| format!("{method} {path}")),
            Err(_) => bail!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}"),
        }
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> anyhow::Result<u16> {
        self.buf.drain(..self.used);
        self.used = 0;
        self.out.clear();
        let o = &mut self.out;
        o.extend_from_slice(method.as_bytes());
        o.push(b' ');
        o.extend_from_slice(path.as_bytes());
        o.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        o.extend_from_slice(self.host.as_bytes());
        o.extend_from_slice(b"\r\n");
        if let Some(t) = token {
            o.extend_from_slice(b"Authorization: Bearer ");
            o.extend_from_slice(t.as_bytes());
            o.extend_from_slice(b"\r\n");
        }
        let body = body.unwrap_or_default();
        if method != "GET" {
            o.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            o.extend_from_slice(body.len().to_string().as_bytes());
            o.extend_from_slice(b"\r\n");
        }
        o.extend_from_slice(b"\r\n");
        o.extend_from_slice(body);
        self.stream.write_all(&self.out).await?;

        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("the answer's head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked answers are not supported by this client");
            }
        }
        let length = length.unwrap_or(0);
        if length > MAX_RESPONSE {
            bail!("an answer of {length} bytes");
        }
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        self.body = head_end..head_end + length;
        self.used = head_end + length;
        Ok(status)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.buf.len() > MAX_RESPONSE {
            bail!("an answer over {MAX_RESPONSE} bytes");
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// One request on a fresh connection (readiness checks, sign-in).
pub async fn once(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut c = HttpConn::connect(addr).await?;
    let status = c.request(method, path, None, body).await?;
    Ok((status, c.body().to_vec()))
}
