//! Ticket slips printed by the server on a network thermal printer (raw
//! TCP, port 9100), for a desk or kiosk bound to one in the configuration
//! (`[[hall.printer]]`). The ticket is issued first: a printer that is off,
//! offline or out of paper never stops it, and the page is told so and
//! offers to print again. Desks without such a printer print from the
//! browser as before.

pub mod escpos;

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `[[hall.printer]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterConfig {
    pub name: String,
    /// `HOST:PORT` (9100 when no port is given).
    pub address: String,
    /// The accounts (a kiosk's, the guide desk's) whose tickets it prints.
    pub accounts: Vec<String>,
    pub cut_partial: bool,
    /// A line under the QR code.
    pub footer: String,
}

const CONNECT: Duration = Duration::from_secs(2);
const WRITE: Duration = Duration::from_secs(3);
/// A printer that does not answer a status query within this is assumed
/// well (many do not answer at all).
const STATUS: Duration = Duration::from_millis(500);

/// What became of a slip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Printed {
    pub printer: String,
    pub ok: bool,
    /// `offline`, `paper_out`, `unreachable`: why it did not print.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The paper is nearly out: printed, but change the roll.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paper_low: bool,
}

impl Printed {
    fn failed(printer: &str, problem: &str, message: String) -> Printed {
        Printed {
            printer: printer.to_owned(),
            ok: false,
            problem: Some(problem.to_owned()),
            message: Some(message),
            paper_low: false,
        }
    }
}

async fn ask(stream: &mut tokio::net::TcpStream, query: &[u8]) -> Option<u8> {
    stream.write_all(query).await.ok()?;
    let mut b = [0u8; 1];
    match tokio::time::timeout(STATUS, stream.read(&mut b)).await {
        Ok(Ok(1)) => Some(b[0]),
        _ => None,
    }
}

/// Sends `bytes` to the printer, after asking whether it is online and
/// has paper.
pub async fn print(p: &PrinterConfig, bytes: &[u8]) -> Printed {
    let address = if p.address.contains(':') {
        p.address.clone()
    } else {
        format!("{}:9100", p.address)
    };
    let mut stream = match tokio::time::timeout(CONNECT, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Printed::failed(&p.name, "unreachable", format!("{address}: {e}")),
        Err(_) => return Printed::failed(&p.name, "unreachable", format!("{address}: no answer")),
    };
    if ask(&mut stream, &escpos::ASK_PRINTER)
        .await
        .is_some_and(escpos::offline)
    {
        return Printed::failed(
            &p.name,
            "offline",
            "the printer is offline (cover open or an error)".into(),
        );
    }
    let (out, low) = ask(&mut stream, &escpos::ASK_PAPER)
        .await
        .map_or((false, false), escpos::paper);
    if out {
        return Printed::failed(&p.name, "paper_out", "the printer is out of paper".into());
    }
    let sent = tokio::time::timeout(WRITE, async {
        stream.write_all(bytes).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    match sent {
        Ok(Ok(())) => Printed {
            printer: p.name.clone(),
            ok: true,
            problem: None,
            message: None,
            paper_low: low,
        },
        Ok(Err(e)) => Printed::failed(&p.name, "unreachable", e.to_string()),
        Err(_) => Printed::failed(&p.name, "unreachable", "the printer stopped taking data".into()),
    }
}
