//! The mel filterbank whisper.cpp reads from the model file: librosa's Slaney-scale filters with Slaney
//! normalisation (`librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`), exactly what openai-whisper ships
//! as `mel_filters.npz`. Computed here so installing a model needs no Python beyond pip itself.

/// Whisper's STFT size at 16 kHz (25 ms windows).
pub const N_FFT: usize = 400;
pub const SAMPLE_RATE: f64 = 16_000.0;

/// `n_mels` rows of `N_FFT / 2 + 1` weights, row-major, computed in f64 and rounded to f32 as librosa does.
pub fn slaney_mel_filters(n_mels: usize) -> Vec<f32> {
    let n_bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * SAMPLE_RATE / N_FFT as f64)
        .collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    // n_mels + 2 points: each filter spans from its left neighbour's centre to its right neighbour's.
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut weights = Vec::with_capacity(n_mels * n_bins);
    for i in 0..n_mels {
        let (lo, centre, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
        // Slaney normalisation: every filter has unit area.
        let enorm = 2.0 / (hi - lo);
        for &f in &fft_freqs {
            let lower = (f - lo) / (centre - lo);
            let upper = (hi - f) / (hi - centre);
            weights.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    weights
}

// Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_have_whisper_shape_and_known_values() {
        let w = slaney_mel_filters(80);
        assert_eq!(w.len(), 80 * 201);
        // Values from openai-whisper's mel_filters.npz (mel_80): the first filter peaks at bin 1, the
        // normalisation makes low filters 2/(2*200/3 Hz)-ish tall, and nothing is negative.
        assert!(w.iter().all(|&v| v >= 0.0));
        assert_eq!(w[0], 0.0);
        assert!((w[1] - 0.024_862_03).abs() < 1e-6, "{}", w[1]);
        // Every filter has some weight, and the last one reaches towards Nyquist.
        for row in w.chunks(201) {
            assert!(row.iter().any(|&v| v > 0.0));
        }
        assert!(w[79 * 201 + 199] > 0.0);
    }
}
