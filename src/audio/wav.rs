//! 16-bit PCM WAV, the format every browser and LED player plays.

use std::io::Cursor;
use std::num::NonZero;

use rodio::source::UniformSourceIterator;

use super::RATE;

/// Mono samples at [`RATE`] as a WAV file.
pub fn encode_wav(samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // PCM
    out.extend(1u16.to_le_bytes()); // mono
    out.extend(RATE.to_le_bytes());
    out.extend((RATE * 2).to_le_bytes()); // bytes per second
    out.extend(2u16.to_le_bytes()); // block align
    out.extend(16u16.to_le_bytes()); // bits per sample
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        out.extend(v.to_le_bytes());
    }
    out
}

/// Decodes WAV bytes (with rodio) to mono samples at [`RATE`].
///
/// # Errors
/// Not a sound rodio can decode.
pub fn decode_wav(bytes: Vec<u8>) -> Result<Vec<f32>, String> {
    let decoder = rodio::Decoder::try_from(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let (one, rate) = (NonZero::<u16>::MIN, NonZero::new(RATE).unwrap_or(NonZero::<u32>::MIN));
    Ok(UniformSourceIterator::new(decoder, one, rate).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_round_trips_through_rodio() {
        let samples: Vec<f32> = (0..2205).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let bytes = encode_wav(&samples);
        assert_eq!(&bytes[..4], b"RIFF");
        let back = decode_wav(bytes).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert!((a - b).abs() < 1e-3);
        }
    }
}
