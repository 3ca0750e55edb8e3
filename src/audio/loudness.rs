//! Loudness as ITU-R BS.1770 (EBU R128) measures it: K-weighted, in 400 ms
//! blocks overlapping by 75%, gated at -70 LUFS and 10 LU under the mean.
//! Clips are brought to one loudness rather than one peak, so a short "一"
//! is as loud to the ear as "号窗口办理".

/// A biquad, as BS.1770 gives its two K-weighting stages.
#[derive(Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn run(&self, x: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }
}

/// The K-weighting filters for `rate`, from the analogue prototypes (the
/// published 48 kHz coefficients are these at 48 kHz).
fn k_weighting(rate: f64) -> [Biquad; 2] {
    use std::f64::consts::PI;
    // Stage 1: the head's high shelf.
    let (f0, g, q) = (1_681.974_450_955_533, 3.999_843_853_973_347, 0.707_175_236_955_419_6);
    let k = (PI * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    // Stage 2: the RLB high pass.
    let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
    let k = (PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, high]
}

/// Integrated loudness of mono `samples` at `rate`, in LUFS; `None` for
/// silence. A clip shorter than a block is measured as one block.
pub fn integrated(samples: &[f32], rate: u32) -> Option<f64> {
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    let [shelf, high] = k_weighting(f64::from(rate));
    let y = high.run(&shelf.run(&x));
    let block = (0.4 * f64::from(rate)) as usize;
    let step = block / 4;
    let mut powers = Vec::new();
    if y.len() <= block {
        powers.push(y.iter().map(|v| v * v).sum::<f64>() / y.len().max(1) as f64);
    } else {
        let mut at = 0;
        while at + block <= y.len() {
            powers.push(y[at..at + block].iter().map(|v| v * v).sum::<f64>() / block as f64);
            at += step;
        }
    }
    let lufs = |p: f64| -0.691 + 10.0 * p.log10();
    let gated = |floor: f64| -> Option<f64> {
        let kept: Vec<f64> = powers.iter().copied().filter(|&p| p > 0.0 && lufs(p) > floor).collect();
        (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
    };
    let mean = gated(-70.0)?;
    let mean = gated(lufs(mean) - 10.0)?;
    Some(lufs(mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_full_scale_1k_sine_reads_as_the_standard_says() {
        // EBU Tech 3341: a 1 kHz sine at 0 dBFS reads -3.01 LUFS; -20 dBFS
        // reads -23.01, at any rate.
        for rate in [22_050, 44_100, 48_000] {
            let l = integrated(&sine(1000.0, 1.0, rate, 3.0), rate).unwrap();
            assert!((l + 3.01).abs() < 0.05, "{rate}: {l}");
            let l = integrated(&sine(1000.0, 0.1, rate, 3.0), rate).unwrap();
            assert!((l + 23.01).abs() < 0.05, "{rate}: {l}");
        }
    }

    #[test]
    fn silence_has_no_loudness_and_quiet_parts_are_gated_out() {
        assert_eq!(integrated(&[0.0; 48_000], 48_000), None);
        let mut s = sine(1000.0, 0.1, 48_000, 2.0);
        let loud = integrated(&s, 48_000).unwrap();
        s.extend(std::iter::repeat_n(0.0001, 96_000));
        let with_quiet = integrated(&s, 48_000).unwrap();
        // Ungated, two seconds of near silence would halve the power (-3 LU);
        // gated, only the blocks straddling the tone's end count.
        assert!((loud - with_quiet).abs() < 0.5, "{loud} {with_quiet}");
    }
}
