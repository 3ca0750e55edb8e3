//! A ticket slip as ESC/POS bytes, for the 80 mm and 58 mm thermal
//! printers halls use (Epson's command set, which Chinese printers follow):
//! Chinese text in GB18030 inside the printer's Chinese mode (`FS &` …
//! `FS .`), the number in large print (`GS !`), the ticket page's QR code
//! (`GS ( k`, model 2, error correction M), and a cut (`GS V`). Pure.

/// What a slip says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    pub hall: String,
    pub zone: String,
    pub service: String,
    pub number: String,
    pub ahead: u32,
    /// Local time of issue, as printed (`2026-11-24 10:15`).
    pub time: String,
    /// The ticket page's address, in the QR code.
    pub link: String,
    /// A line under the code (the hall's own words).
    pub footer: String,
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;

fn gb18030(s: &str) -> Vec<u8> {
    let (bytes, _, _) = encoding_rs::GB18030.encode(s);
    bytes.into_owned()
}

/// `GS ( k` with cn 49 (QR code) and function `fn_`.
fn qr(out: &mut Vec<u8>, fn_: u8, params: &[u8]) {
    let len = params.len() + 2;
    out.extend([GS, b'(', b'k', (len & 0xFF) as u8, (len >> 8) as u8, 0x31, fn_]);
    out.extend(params);
}

/// The slip's bytes. `cut_partial` leaves a hinge (most kiosks), else a
/// full cut.
pub fn slip(s: &Slip, cut_partial: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend([ESC, b'@']); // initialise
    out.extend([ESC, b'a', 1]); // centred
    out.extend([FS, b'&']); // Chinese mode: the text below is GB18030
    let line = |out: &mut Vec<u8>, text: &str| {
        out.extend(gb18030(text));
        out.push(LF);
    };
    out.extend([ESC, b'E', 1]);
    line(&mut out, &s.hall);
    out.extend([ESC, b'E', 0]);
    line(&mut out, &format!("{} · {}", s.zone, s.service));
    out.push(LF);
    out.extend([GS, b'!', 0x33]); // four times wide and high
    line(&mut out, &s.number);
    out.extend([GS, b'!', 0x00]);
    out.push(LF);
    line(&mut out, &format!("前面还有 {} 人等候", s.ahead));
    line(&mut out, &s.time);
    // The code: model 2, 6-dot modules, level M, the link, print.
    qr(&mut out, 65, &[0x32, 0x00]);
    qr(&mut out, 67, &[6]);
    qr(&mut out, 69, &[0x31]);
    let mut data = vec![0x30];
    data.extend(s.link.as_bytes());
    qr(&mut out, 80, &data);
    qr(&mut out, 81, &[0x30]);
    out.push(LF);
    if !s.footer.is_empty() {
        line(&mut out, &s.footer);
    }
    out.extend([FS, b'.']);
    // Feed past the cutter, then cut.
    out.extend([GS, b'V', if cut_partial { 66 } else { 65 }, 3]);
    out
}

/// The real-time status queries (`DLE EOT n`): printer (1) and roll
/// paper sensor (4).
pub const ASK_PRINTER: [u8; 3] = [0x10, 0x04, 1];
pub const ASK_PAPER: [u8; 3] = [0x10, 0x04, 4];

/// What a `DLE EOT 1` answer says: offline (bit 3).
pub fn offline(status: u8) -> bool {
    status & 0x08 != 0
}

/// What a `DLE EOT 4` answer says: paper out (bits 5 and 6) or near its
/// end (bits 2 and 3).
pub fn paper(status: u8) -> (bool, bool) {
    (status & 0x60 == 0x60, status & 0x0C == 0x0C)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_is_gb18030_with_a_qr_code_and_a_cut() {
        let s = Slip {
            hall: "谯城区政务服务中心".into(),
            zone: "综合服务".into(),
            service: "社保医保".into(),
            number: "A023".into(),
            ahead: 4,
            time: "2026-11-24 10:15".into(),
            link: "https://qz.io".into(),
            footer: String::new(),
        };
        let b = slip(&s, true);
        assert!(b.starts_with(&[0x1B, 0x40]));
        assert!(b.ends_with(&[0x1D, 0x56, 66, 3]));
        // Epson's worked example of the store function for this link.
        let store = [
            0x1D, 0x28, 0x6B, 0x10, 0x00, 0x31, 0x50, 0x30, 0x68, 0x74, 0x74, 0x70, 0x73, 0x3A, 0x2F, 0x2F, 0x71, 0x7A,
            0x2E, 0x69, 0x6F,
        ];
        assert!(b.windows(store.len()).any(|w| w == store));
        let hall = gb18030("谯城区政务服务中心");
        assert!(b.windows(hall.len()).any(|w| w == hall.as_slice()));
        assert_eq!(encoding_rs::GB18030.decode(&hall).0, "谯城区政务服务中心");
    }

    #[test]
    fn status_bytes_are_read_as_epson_documents() {
        assert!(offline(0x16 | 0x08));
        assert!(!offline(0x16));
        assert_eq!(paper(0x12 | 0x60), (true, false));
        assert_eq!(paper(0x12 | 0x0C), (false, true));
        assert_eq!(paper(0x12), (false, false));
    }
}
