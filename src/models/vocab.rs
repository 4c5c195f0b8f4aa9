//! Whisper's vocabulary for the ggml file, from the Hugging Face `tokenizer.json` shipped beside the weights.
//!
//! whisper.cpp wants the raw bytes of every ordinary token, ids `0..<|endoftext|>` in order (it adds the
//! special tokens itself). `tokenizer.json` spells tokens with GPT-2's byte-level alphabet, where each byte is
//! shown as a printable character; this module maps them back.

use std::collections::HashMap;

use serde::Deserialize;

use super::ConvertError;

#[derive(Deserialize)]
struct TokenizerJson {
    model: BpeModel,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(Deserialize)]
struct BpeModel {
    vocab: HashMap<String, u32>,
}

#[derive(Deserialize)]
struct AddedToken {
    id: u32,
    content: String,
}

const END_OF_TEXT: &str = "<|endoftext|>";

/// The raw bytes of tokens `0..eot`, in id order.
pub fn ordinary_tokens(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>, ConvertError> {
    let t: TokenizerJson = serde_json::from_slice(tokenizer_json)
        .map_err(|e| ConvertError::Format(format!("tokenizer.json: {e}")))?;
    let eot = t
        .added_tokens
        .iter()
        .find(|a| a.content == END_OF_TEXT)
        .map(|a| a.id)
        .or_else(|| t.model.vocab.get(END_OF_TEXT).copied())
        .ok_or_else(|| ConvertError::Format(format!("tokenizer.json has no {END_OF_TEXT}")))?;
    let decoder = byte_decoder();
    let mut tokens: Vec<Option<Vec<u8>>> = vec![None; eot as usize];
    for (text, &id) in &t.model.vocab {
        if id >= eot {
            continue;
        }
        let bytes = text
            .chars()
            .map(|c| decoder.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                ConvertError::Format(format!(
                    "tokenizer.json: token {id} ({text:?}) is not byte-level BPE"
                ))
            })?;
        tokens[id as usize] = Some(bytes);
    }
    tokens
        .into_iter()
        .enumerate()
        .map(|(id, t)| {
            t.ok_or_else(|| {
                ConvertError::Format(format!("tokenizer.json: token id {id} is missing"))
            })
        })
        .collect()
}

/// GPT-2's `bytes_to_unicode`, inverted: printable bytes stand for themselves, the other 68 are shifted to
/// code points from U+0100 up, in byte order.
fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        map.insert(c, b);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_decoder_matches_gpt2() {
        let d = byte_decoder();
        assert_eq!(d.len(), 256);
        assert_eq!(d[&'Ġ'], b' '); // U+0120
        assert_eq!(d[&'Ċ'], b'\n'); // U+010A
        assert_eq!(d[&'A'], b'A');
        assert_eq!(d[&'Ā'], 0); // U+0100
        assert_eq!(d[&'\u{143}'], 0xAD); // the last shifted byte (soft hyphen)
    }

    #[test]
    fn tokens_come_back_as_raw_bytes_in_id_order() {
        let json = r#"{"model":{"type":"BPE","vocab":{"!":0,"ĠHello":1,"Ċ":2,"<|endoftext|>":3,"x":4}},
            "added_tokens":[{"id":3,"content":"<|endoftext|>"}]}"#;
        let tokens = ordinary_tokens(json.as_bytes()).unwrap();
        assert_eq!(
            tokens,
            vec![b"!".to_vec(), b" Hello".to_vec(), b"\n".to_vec()]
        );
    }

    #[test]
    fn gaps_and_garbage_are_errors() {
        let gap = r#"{"model":{"vocab":{"a":0,"<|endoftext|>":2}}}"#;
        assert!(ordinary_tokens(gap.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("1 is missing"));
        assert!(ordinary_tokens(b"not json").is_err());
    }
}
