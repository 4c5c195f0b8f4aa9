//! CTranslate2 Whisper → whisper.cpp's ggml file, in Rust.
//!
//! The output matches what whisper.cpp's own `convert-pt-to-ggml.py` writes from the original PyTorch
//! checkpoint (the base model comes out byte-for-byte the size of the official `ggml-base.bin`):
//! hyper-parameters, the mel filterbank, the vocabulary, then every tensor under its PyTorch name.
//! CTranslate2 fuses attention projections (`[q; k; v]` and `[k; v]`) and gives the key a zero bias; they are
//! split back here and the key bias dropped (a per-query constant, which softmax ignores anyway).
//! With `Weights::Q8_0` the weight matrices are then stored as whisper.cpp's own `quantize` tool would
//! store them (ggml's reference Q8_0 rounding), so no second tool or pass is needed.

use std::collections::BTreeSet;
use std::io::Write;

use super::ct2::{Ct2Model, DType, Variable};
use super::{mel, vocab, ConvertError};

const GGML_MAGIC: u32 = 0x6767_6d6c;
/// Whisper's STFT bins: `n_fft / 2 + 1`.
const N_FREQ_BINS: usize = mel::N_FFT / 2 + 1;

/// whisper.cpp's hyper-parameters, in the order the file stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

/// How the weight matrices are stored. whisper.cpp takes the type of every 2-D weight matrix from
/// the file's header; the conv kernels stay f16 and the norms, biases and positional embeddings f32
/// whichever is chosen, as in whisper.cpp's own `quantize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// The checkpoint's own half-precision values, unchanged.
    F16,
    /// ggml's Q8_0: blocks of 32 weights, each an f16 scale and 32 signed bytes. Measured faster
    /// than f16 on these CPUs at the same accuracy (BENCHMARKS.md), and half the size.
    Q8_0,
}

impl Weights {
    /// The header's `ftype`: ggml's file type, plus its quantisation version (2) times 1000 for a
    /// quantised file, as `quantize` writes it.
    fn ftype(self) -> i32 {
        match self {
            Weights::F16 => 1,
            Weights::Q8_0 => 7 + 2 * 1000,
        }
    }
}

/// ggml's tensor types, as a tensor's header names them.
const GGML_TYPE_F32: i32 = 0;
const GGML_TYPE_F16: i32 = 1;
const GGML_TYPE_Q8_0: i32 = 8;
/// Weights per Q8_0 block.
const Q8_0_BLOCK: usize = 32;

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    pub hparams: Hparams,
    pub tensors: usize,
    pub vocab: usize,
    pub bytes: u64,
}

/// Converts `model.bin` + `tokenizer.json` into a ggml model written to `out`.
pub fn convert(
    model_bin: &[u8],
    tokenizer_json: &[u8],
    weights: Weights,
    out: &mut impl Write,
) -> Result<ConvertSummary, ConvertError> {
    let model = Ct2Model::parse(model_bin)?;
    if !model.spec.starts_with("WhisperSpec") {
        return Err(ConvertError::Format(format!(
            "model.bin holds a {:?}, not a Whisper model",
            model.spec
        )));
    }
    let hp = hparams(&model)?;
    let tokens = vocab::ordinary_tokens(tokenizer_json)?;
    let tensors = tensor_plan(&model, &hp)?;

    let mut w = CountingWriter {
        inner: out,
        bytes: 0,
    };
    w.i32(GGML_MAGIC as i32)?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
    ] {
        w.usize(v)?;
    }
    w.i32(weights.ftype())?;
    let filters = mel::slaney_mel_filters(hp.n_mels);
    w.usize(hp.n_mels)?;
    w.usize(N_FREQ_BINS)?;
    for f in filters {
        w.write(&f.to_le_bytes())?;
    }
    w.usize(tokens.len())?;
    for t in &tokens {
        w.usize(t.len())?;
        w.write(t)?;
    }
    for t in &tensors {
        t.write(&mut w, weights)?;
    }
    w.inner.flush()?;
    Ok(ConvertSummary {
        hparams: hp,
        tensors: tensors.len(),
        vocab: tokens.len(),
        bytes: w.bytes,
    })
}

fn hparams(m: &Ct2Model<'_>) -> Result<Hparams, ConvertError> {
    let dims = |name: &str, rank: usize| -> Result<Vec<usize>, ConvertError> {
        let v = m.get(name)?;
        if v.shape.len() != rank {
            return Err(ConvertError::Format(format!(
                "{name} has shape {:?}, expected rank {rank}",
                v.shape
            )));
        }
        Ok(v.shape.clone())
    };
    let heads = |name: &str| -> Result<usize, ConvertError> {
        usize::try_from(m.scalar(name)?)
            .ok()
            .filter(|&h| h > 0)
            .ok_or_else(|| ConvertError::Format(format!("{name} is not a positive head count")))
    };
    let layers = |prefix: &str| -> usize {
        m.names()
            .filter_map(|n| n.strip_prefix(prefix))
            .filter_map(|rest| rest.split('/').next())
            .filter_map(|i| i.parse::<usize>().ok())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let emb = dims("decoder/embeddings/weight", 2)?;
    let conv1 = dims("encoder/conv1/weight", 3)?;
    let hp = Hparams {
        n_vocab: emb[0],
        n_audio_ctx: dims("encoder/position_encodings/encodings", 2)?[0],
        n_audio_state: conv1[0],
        n_audio_head: heads("encoder/num_heads")?,
        n_audio_layer: layers("encoder/layer_"),
        n_text_ctx: dims("decoder/position_encodings/encodings", 2)?[0],
        n_text_state: emb[1],
        n_text_head: heads("decoder/num_heads")?,
        n_text_layer: layers("decoder/layer_"),
        n_mels: conv1[1],
    };
    if hp.n_audio_layer == 0 || hp.n_text_layer == 0 {
        return Err(ConvertError::Format(
            "model.bin has no encoder or decoder layers".into(),
        ));
    }
    Ok(hp)
}

/// One tensor of the output: its PyTorch name and shape, where its data comes from, and whether whisper.cpp
/// wants it in f32 (1-D tensors, conv biases, positional embeddings) or f16 (the rest).
struct Tensor<'a> {
    name: String,
    shape: Vec<usize>,
    src: Variable<'a>,
    f32: bool,
}

impl Tensor<'_> {
    fn write(
        &self,
        w: &mut CountingWriter<'_, impl Write>,
        weights: Weights,
    ) -> Result<(), ConvertError> {
        let ttype = if self.f32 {
            GGML_TYPE_F32
        } else if weights == Weights::Q8_0 && self.shape.len() == 2 {
            GGML_TYPE_Q8_0
        } else {
            GGML_TYPE_F16
        };
        w.usize(self.shape.len())?;
        w.usize(self.name.len())?;
        w.i32(ttype)?;
        for d in self.shape.iter().rev() {
            w.usize(*d)?;
        }
        w.write(self.name.as_bytes())?;
        let data = self.src.data;
        match (self.src.dtype, ttype) {
            (DType::F16, GGML_TYPE_F16) | (DType::F32, GGML_TYPE_F32) => w.write(data)?,
            (DType::F16 | DType::F32, GGML_TYPE_Q8_0) => {
                // ggml's rows run along the last PyTorch dimension; a block never spans two rows.
                let row = self.shape.last().copied().unwrap_or(0);
                if row % Q8_0_BLOCK != 0 {
                    return Err(ConvertError::Format(format!(
                        "{}: rows of {row} weights cannot be stored in blocks of {Q8_0_BLOCK}",
                        self.name
                    )));
                }
                w.write(&quantize_q8_0(&self.values()))?;
            }
            (DType::F16, _) => {
                let mut buf = Vec::with_capacity(data.len() * 2);
                for v in self.values() {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                w.write(&buf)?;
            }
            (DType::F32, _) => {
                let mut buf = Vec::with_capacity(data.len() / 2);
                for v in self.values() {
                    buf.extend_from_slice(&f32_to_f16(v).to_le_bytes());
                }
                w.write(&buf)?;
            }
            (other, _) => {
                return Err(ConvertError::Format(format!(
                    "{}: weights of type {other:?} are not supported (need f16 or f32)",
                    self.name
                )))
            }
        }
        Ok(())
    }

    /// The source values as f32 (f16 widens exactly). Only called for f16 or f32 sources.
    fn values(&self) -> Vec<f32> {
        let data = self.src.data;
        match self.src.dtype {
            DType::F16 => data
                .chunks_exact(2)
                .map(|h| f16_to_f32(u16::from_le_bytes([h[0], h[1]])))
                .collect(),
            _ => data
                .chunks_exact(4)
                .map(|f| f32::from_le_bytes([f[0], f[1], f[2], f[3]]))
                .collect(),
        }
    }
}

/// ggml's reference Q8_0 quantisation (`quantize_row_q8_0_ref`): per block of 32, the scale
/// `d = max|x| / 127` stored as f16, then each weight as `round(x / d)` in a signed byte.
/// `values.len()` is a multiple of 32.
fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK * (2 + Q8_0_BLOCK));
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        // In range by construction: |x * id| <= 127 (rounding cannot pass it).
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

/// Every tensor whisper.cpp loads, mapped from CTranslate2's names (shared/asr/MODELS.md has the table).
fn tensor_plan<'a>(m: &Ct2Model<'a>, hp: &Hparams) -> Result<Vec<Tensor<'a>>, ConvertError> {
    let mut plan = Vec::new();
    // A whole variable under a new name.
    let put = |plan: &mut Vec<Tensor<'a>>, name: String, src: &str, shape: Option<Vec<usize>>| {
        let v = m.get(src)?.clone();
        let f32 = v.shape.len() < 2
            || name.ends_with("positional_embedding")
            || (name.starts_with("encoder.conv") && name.ends_with(".bias"));
        let shape = shape.unwrap_or_else(|| v.shape.clone());
        plan.push(Tensor {
            name,
            shape,
            src: v,
            f32,
        });
        Ok::<(), ConvertError>(())
    };

    for conv in ["conv1", "conv2"] {
        put(
            &mut plan,
            format!("encoder.{conv}.weight"),
            &format!("encoder/{conv}/weight"),
            None,
        )?;
        let n = m.get(&format!("encoder/{conv}/bias"))?.elements();
        put(
            &mut plan,
            format!("encoder.{conv}.bias"),
            &format!("encoder/{conv}/bias"),
            Some(vec![n, 1]),
        )?;
    }
    put(
        &mut plan,
        "encoder.positional_embedding".into(),
        "encoder/position_encodings/encodings",
        None,
    )?;
    for i in 0..hp.n_audio_layer {
        let (src, dst) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        self_attention(m, &mut plan, &src, &dst, hp.n_audio_state)?;
        for (a, b) in layer_norm_and_mlp(&src, &dst) {
            put(&mut plan, b, &a, None)?;
        }
    }
    put(
        &mut plan,
        "encoder.ln_post.weight".into(),
        "encoder/layer_norm/gamma",
        None,
    )?;
    put(
        &mut plan,
        "encoder.ln_post.bias".into(),
        "encoder/layer_norm/beta",
        None,
    )?;

    put(
        &mut plan,
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings",
        None,
    )?;
    put(
        &mut plan,
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight",
        None,
    )?;
    for i in 0..hp.n_text_layer {
        let (src, dst) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        let n = hp.n_text_state;
        self_attention(m, &mut plan, &src, &dst, n)?;
        for (a, b) in [
            ("attention/layer_norm/gamma", "cross_attn_ln.weight"),
            ("attention/layer_norm/beta", "cross_attn_ln.bias"),
            ("attention/linear_0/weight", "cross_attn.query.weight"),
            ("attention/linear_0/bias", "cross_attn.query.bias"),
            ("attention/linear_2/weight", "cross_attn.out.weight"),
            ("attention/linear_2/bias", "cross_attn.out.bias"),
        ] {
            put(&mut plan, format!("{dst}.{b}"), &format!("{src}/{a}"), None)?;
        }
        let kv_w = m.get(&format!("{src}/attention/linear_1/weight"))?;
        let kv_b = m.get(&format!("{src}/attention/linear_1/bias"))?;
        plan.push(rows(
            &format!("{dst}.cross_attn.key.weight"),
            kv_w,
            0,
            n,
            2,
        )?);
        plan.push(rows(
            &format!("{dst}.cross_attn.value.weight"),
            kv_w,
            1,
            n,
            2,
        )?);
        plan.push(rows(
            &format!("{dst}.cross_attn.value.bias"),
            kv_b,
            1,
            n,
            2,
        )?);
        for (a, b) in layer_norm_and_mlp(&src, &dst) {
            put(&mut plan, b, &a, None)?;
        }
    }
    put(
        &mut plan,
        "decoder.ln.weight".into(),
        "decoder/layer_norm/gamma",
        None,
    )?;
    put(
        &mut plan,
        "decoder.ln.bias".into(),
        "decoder/layer_norm/beta",
        None,
    )?;
    Ok(plan)
}

fn layer_norm_and_mlp(src: &str, dst: &str) -> Vec<(String, String)> {
    [
        ("self_attention/layer_norm/gamma", "attn_ln.weight"),
        ("self_attention/layer_norm/beta", "attn_ln.bias"),
        ("self_attention/linear_1/weight", "attn.out.weight"),
        ("self_attention/linear_1/bias", "attn.out.bias"),
        ("ffn/layer_norm/gamma", "mlp_ln.weight"),
        ("ffn/layer_norm/beta", "mlp_ln.bias"),
        ("ffn/linear_0/weight", "mlp.0.weight"),
        ("ffn/linear_0/bias", "mlp.0.bias"),
        ("ffn/linear_1/weight", "mlp.2.weight"),
        ("ffn/linear_1/bias", "mlp.2.bias"),
    ]
    .into_iter()
    .map(|(a, b)| (format!("{src}/{a}"), format!("{dst}.{b}")))
    .collect()
}

/// The fused `[q; k; v]` projection of a self-attention block, split into three.
fn self_attention<'a>(
    m: &Ct2Model<'a>,
    plan: &mut Vec<Tensor<'a>>,
    src: &str,
    dst: &str,
    n: usize,
) -> Result<(), ConvertError> {
    let w = m.get(&format!("{src}/self_attention/linear_0/weight"))?;
    let b = m.get(&format!("{src}/self_attention/linear_0/bias"))?;
    plan.push(rows(&format!("{dst}.attn.query.weight"), w, 0, n, 3)?);
    plan.push(rows(&format!("{dst}.attn.query.bias"), b, 0, n, 3)?);
    plan.push(rows(&format!("{dst}.attn.key.weight"), w, 1, n, 3)?);
    plan.push(rows(&format!("{dst}.attn.value.weight"), w, 2, n, 3)?);
    plan.push(rows(&format!("{dst}.attn.value.bias"), b, 2, n, 3)?);
    Ok(())
}

/// Part `part` of `parts` equal blocks of `n` rows from a fused tensor.
fn rows<'a>(
    name: &str,
    v: &Variable<'a>,
    part: usize,
    n: usize,
    parts: usize,
) -> Result<Tensor<'a>, ConvertError> {
    if v.shape.first() != Some(&(n * parts)) {
        return Err(ConvertError::Format(format!(
            "{name}: fused tensor has shape {:?}, expected {} rows",
            v.shape,
            n * parts
        )));
    }
    let row_bytes = v.data.len() / (n * parts);
    let data = &v.data[part * n * row_bytes..(part + 1) * n * row_bytes];
    let mut shape = v.shape.clone();
    shape[0] = n;
    Ok(Tensor {
        name: name.to_string(),
        f32: shape.len() < 2,
        shape,
        src: Variable {
            shape: Vec::new(),
            dtype: v.dtype,
            data,
        },
    })
}

struct CountingWriter<'w, W: Write> {
    inner: &'w mut W,
    bytes: u64,
}

impl<W: Write> CountingWriter<'_, W> {
    fn write(&mut self, b: &[u8]) -> Result<(), ConvertError> {
        self.inner.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn i32(&mut self, v: i32) -> Result<(), ConvertError> {
        self.write(&v.to_le_bytes())
    }

    fn usize(&mut self, v: usize) -> Result<(), ConvertError> {
        let v = i32::try_from(v)
            .map_err(|_| ConvertError::Format(format!("{v} does not fit the ggml header")))?;
        self.i32(v)
    }
}

/// IEEE half → single precision (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: renormalise.
            let mut e = 127 - 15 + 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Single → half precision, rounding to nearest even (for models shipped in f32).
pub fn f32_to_f16(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rounded = (m + half - 1 + ((m >> shift) & 1)) >> shift;
        return sign | rounded as u16;
    }
    let rounded = man + 0xfff + ((man >> 13) & 1);
    let (e, rounded) = if rounded & 0x80_0000 != 0 {
        (e + 1, 0)
    } else {
        (e, rounded)
    };
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    sign | ((e as u16) << 10) | ((rounded >> 13) as u16)
}

#[cfg(test)]
mod tests {
    use super::super::ct2::tests::Builder;
    use super::*;

    #[test]
    fn half_precision_round_trips() {
        for v in [
            0.0f32,
            -0.0,
            1.0,
            -2.5,
            0.333_251_95,
            65504.0,
            6.1035156e-5,
            5.9604645e-8,
        ] {
            assert_eq!(f16_to_f32(f32_to_f16(v)), v, "{v}");
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f32_to_f16(1e9), 0x7c00);
        // Ties round to even.
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02);
    }

    fn f16s(n: usize, v: f32) -> Vec<u8> {
        (0..n).flat_map(|_| f32_to_f16(v).to_le_bytes()).collect()
    }

    /// A one-layer Whisper with state 2, 2 mels, 3 tokens: small enough to check every byte's place.
    fn toy_model() -> Vec<u8> {
        toy_model_of_state(2)
    }

    fn toy_model_of_state(s: u32) -> Vec<u8> {
        let n = s as usize;
        let mut b = Builder::new()
            .var("encoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec())
            .var("decoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec())
            .var("encoder/conv1/weight", &[s, 2, 3], 4, f16s(6 * n, 0.5))
            .var("encoder/conv1/bias", &[s], 4, f16s(n, 1.0))
            .var("encoder/conv2/weight", &[s, s, 3], 4, f16s(3 * n * n, 0.5))
            .var("encoder/conv2/bias", &[s], 4, f16s(n, 1.0))
            .var(
                "encoder/position_encodings/encodings",
                &[4, s],
                4,
                f16s(4 * n, 0.25),
            )
            .var("encoder/layer_norm/gamma", &[s], 4, f16s(n, 1.0))
            .var("encoder/layer_norm/beta", &[s], 4, f16s(n, 0.0))
            .var(
                "decoder/position_encodings/encodings",
                &[3, s],
                4,
                f16s(3 * n, 0.25),
            )
            .var("decoder/embeddings/weight", &[5, s], 4, f16s(5 * n, 0.5))
            .var("decoder/layer_norm/gamma", &[s], 4, f16s(n, 1.0))
            .var("decoder/layer_norm/beta", &[s], 4, f16s(n, 0.0))
            .alias("decoder/projection/weight", "decoder/embeddings/weight");
        for side in ["encoder", "decoder"] {
            let l = format!("{side}/layer_0");
            for ln in ["self_attention/layer_norm", "ffn/layer_norm"] {
                b = b
                    .var(&format!("{l}/{ln}/gamma"), &[s], 4, f16s(n, 1.0))
                    .var(&format!("{l}/{ln}/beta"), &[s], 4, f16s(n, 0.0));
            }
            // q rows are 1.0, k rows 2.0, v rows 3.0, so a wrong split shows.
            let mut qkv = f16s(n * n, 1.0);
            qkv.extend(f16s(n * n, 2.0));
            qkv.extend(f16s(n * n, 3.0));
            let mut qkv_b = f16s(n, 1.0);
            qkv_b.extend(f16s(n, 0.0));
            qkv_b.extend(f16s(n, 3.0));
            b = b
                .var(
                    &format!("{l}/self_attention/linear_0/weight"),
                    &[3 * s, s],
                    4,
                    qkv,
                )
                .var(
                    &format!("{l}/self_attention/linear_0/bias"),
                    &[3 * s],
                    4,
                    qkv_b,
                )
                .var(
                    &format!("{l}/self_attention/linear_1/weight"),
                    &[s, s],
                    4,
                    f16s(n * n, 0.5),
                )
                .var(
                    &format!("{l}/self_attention/linear_1/bias"),
                    &[s],
                    4,
                    f16s(n, 0.5),
                )
                .var(
                    &format!("{l}/ffn/linear_0/weight"),
                    &[4 * s, s],
                    4,
                    f16s(4 * n * n, 0.5),
                )
                .var(
                    &format!("{l}/ffn/linear_0/bias"),
                    &[4 * s],
                    4,
                    f16s(4 * n, 0.5),
                )
                .var(
                    &format!("{l}/ffn/linear_1/weight"),
                    &[s, 4 * s],
                    4,
                    f16s(4 * n * n, 0.5),
                )
                .var(&format!("{l}/ffn/linear_1/bias"), &[s], 4, f16s(n, 0.5));
        }
        let l = "decoder/layer_0/attention";
        let mut kv = f16s(n * n, 2.0);
        kv.extend(f16s(n * n, 3.0));
        let mut kv_b = f16s(n, 0.0);
        kv_b.extend(f16s(n, 3.0));
        b.var(&format!("{l}/layer_norm/gamma"), &[s], 4, f16s(n, 1.0))
            .var(&format!("{l}/layer_norm/beta"), &[s], 4, f16s(n, 0.0))
            .var(
                &format!("{l}/linear_0/weight"),
                &[s, s],
                4,
                f16s(n * n, 1.0),
            )
            .var(&format!("{l}/linear_0/bias"), &[s], 4, f16s(n, 1.0))
            .var(&format!("{l}/linear_1/weight"), &[2 * s, s], 4, kv)
            .var(&format!("{l}/linear_1/bias"), &[2 * s], 4, kv_b)
            .var(
                &format!("{l}/linear_2/weight"),
                &[s, s],
                4,
                f16s(n * n, 0.5),
            )
            .var(&format!("{l}/linear_2/bias"), &[s], 4, f16s(n, 0.5))
            .build()
    }

    const TOY_TOKENIZER: &str = r#"{"model":{"vocab":{"a":0,"Ġb":1,"c":2,"<|endoftext|>":3}},
        "added_tokens":[{"id":3,"content":"<|endoftext|>"}]}"#;

    /// One tensor as read back: name, type, dims, first value.
    type TensorSummary = (String, i32, Vec<i32>, f32);

    /// Reads back what `convert` wrote: header, then (name → (type, dims, first value)).
    fn read_back(bytes: &[u8]) -> (Vec<i32>, Vec<TensorSummary>) {
        let mut at = 0;
        let i32_at = |at: &mut usize| {
            let v = i32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap());
            *at += 4;
            v
        };
        let header: Vec<i32> = (0..12).map(|_| i32_at(&mut at)).collect();
        let (rows, cols) = (i32_at(&mut at), i32_at(&mut at));
        at += (rows * cols * 4) as usize;
        let n_tokens = i32_at(&mut at);
        for _ in 0..n_tokens {
            let len = i32_at(&mut at);
            at += len as usize;
        }
        let mut tensors = Vec::new();
        while at < bytes.len() {
            let n_dims = i32_at(&mut at);
            let name_len = i32_at(&mut at);
            let ty = i32_at(&mut at);
            let dims: Vec<i32> = (0..n_dims).map(|_| i32_at(&mut at)).collect();
            let name = String::from_utf8(bytes[at..at + name_len as usize].to_vec()).unwrap();
            at += name_len as usize;
            let n: i32 = dims.iter().product();
            let half = |at: usize| f16_to_f32(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
            let (first, size) = match ty {
                0 => (
                    f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()),
                    n as usize * 4,
                ),
                // Q8_0: the first block's scale times its first byte.
                8 => (
                    half(at) * f32::from(bytes[at + 2] as i8),
                    n as usize / 32 * 34,
                ),
                _ => (half(at), n as usize * 2),
            };
            at += size;
            tensors.push((name, ty, dims, first));
        }
        (header, tensors)
    }

    #[test]
    fn converts_a_toy_model_with_whisper_names_types_and_splits() {
        let mut out = Vec::new();
        let summary = convert(
            &toy_model(),
            TOY_TOKENIZER.as_bytes(),
            Weights::F16,
            &mut out,
        )
        .unwrap();
        assert_eq!(summary.bytes, out.len() as u64);
        assert_eq!(summary.vocab, 3);
        let (header, tensors) = read_back(&out);
        assert_eq!(header, vec![0x6767_6d6c, 5, 4, 2, 1, 1, 3, 2, 1, 1, 2, 1]);
        let find = |n: &str| {
            tensors
                .iter()
                .find(|t| t.0 == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        // Per layer: 2 LN × 2 + q(w,b) k(w) v(w,b) out(w,b) + mlp 4 = 15; decoder adds cross-attn 2+2+1+2+2 = 9.
        assert_eq!(tensors.len(), 4 + 1 + 15 + 2 + 2 + 15 + 9 + 2);
        assert_eq!(find("encoder.conv1.bias").2, vec![1, 2]); // [n, 1] reversed
        assert_eq!(find("encoder.conv1.bias").1, 0);
        assert_eq!(find("encoder.conv1.weight").2, vec![3, 2, 2]);
        assert_eq!(find("encoder.positional_embedding").1, 0);
        assert_eq!(find("decoder.token_embedding.weight").1, 1);
        assert_eq!(find("decoder.blocks.0.attn_ln.weight").1, 0);
        assert_eq!(find("encoder.blocks.0.attn.query.weight").3, 1.0);
        assert_eq!(find("encoder.blocks.0.attn.key.weight").3, 2.0);
        assert_eq!(find("encoder.blocks.0.attn.value.weight").3, 3.0);
        assert_eq!(find("encoder.blocks.0.attn.value.bias").3, 3.0);
        assert_eq!(find("decoder.blocks.0.cross_attn.key.weight").3, 2.0);
        assert_eq!(find("decoder.blocks.0.cross_attn.value.weight").3, 3.0);
        assert_eq!(find("decoder.blocks.0.cross_attn.value.bias").3, 3.0);
        assert!(tensors.iter().all(|t| !t.0.contains("key.bias")));
        assert_eq!(find("encoder.blocks.0.attn.query.weight").2, vec![2, 2]);
    }

    #[test]
    fn missing_tensors_are_named() {
        let err = convert(
            &Builder::new().build(),
            TOY_TOKENIZER.as_bytes(),
            Weights::F16,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("decoder/embeddings/weight"),
            "{err}"
        );
    }

    #[test]
    fn q8_0_stores_weight_matrices_in_blocks_and_keeps_the_rest() {
        let mut out = Vec::new();
        let summary = convert(
            &toy_model_of_state(32),
            TOY_TOKENIZER.as_bytes(),
            Weights::Q8_0,
            &mut out,
        )
        .unwrap();
        assert_eq!(summary.bytes, out.len() as u64);
        let (header, tensors) = read_back(&out);
        assert_eq!(
            header[11], 2007,
            "ftype: Q8_0 (7) + quantisation version 2 x 1000"
        );
        let find = |n: &str| tensors.iter().find(|t| t.0 == n).unwrap();
        // Every 2-D weight matrix, the token embedding included, is Q8_0 (whisper.cpp expects one type).
        for name in [
            "encoder.blocks.0.attn.query.weight",
            "encoder.blocks.0.mlp.0.weight",
            "decoder.token_embedding.weight",
            "decoder.blocks.0.cross_attn.value.weight",
        ] {
            assert_eq!(find(name).1, 8, "{name}");
        }
        // Values survive within the block's rounding: the toy's weights are 1, 2 and 3.
        assert!((find("encoder.blocks.0.attn.query.weight").3 - 1.0).abs() < 1e-2);
        assert!((find("encoder.blocks.0.attn.value.weight").3 - 3.0).abs() < 1e-2);
        // Conv kernels stay f16; norms, biases and positions stay f32.
        assert_eq!(find("encoder.conv1.weight").1, 1);
        assert_eq!(find("encoder.conv1.bias").1, 0);
        assert_eq!(find("encoder.positional_embedding").1, 0);
        assert_eq!(find("decoder.blocks.0.attn_ln.weight").1, 0);
    }

    #[test]
    fn q8_0_refuses_rows_that_are_not_whole_blocks() {
        let err = convert(
            &toy_model(),
            TOY_TOKENIZER.as_bytes(),
            Weights::Q8_0,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("blocks of 32"), "{err}");
    }

    #[test]
    fn q8_0_blocks_follow_ggml_reference_quantisation() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 10.0).collect();
        let out = quantize_q8_0(&values);
        assert_eq!(out.len(), 2 * 34);
        for (b, block) in values.chunks(32).enumerate() {
            let bytes = &out[b * 34..(b + 1) * 34];
            let d = f16_to_f32(u16::from_le_bytes([bytes[0], bytes[1]]));
            let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!((d - amax / 127.0).abs() <= amax / 127.0 / 1000.0);
            // The largest weight maps to +-127, and every weight comes back within half a step
            // (plus the scale's own f16 rounding).
            assert!(bytes[2..].iter().any(|&q| (q as i8).unsigned_abs() == 127));
            for (x, &q) in block.iter().zip(&bytes[2..]) {
                assert!(
                    (f32::from(q as i8) * d - x).abs() <= d * 0.5 + amax * 1e-3,
                    "{x}"
                );
            }
        }
        // An all-zero block has scale 0 and zero bytes, not NaNs.
        assert_eq!(quantize_q8_0(&[0.0; 32]), vec![0u8; 34]);
    }
}
