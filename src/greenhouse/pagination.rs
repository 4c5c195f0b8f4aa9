//! Following Harvest pages: parsing RFC 8288 `Link` headers and decoding one page's body.
//!
//! Both versions page the same way from the client's side: the first request carries `per_page`
//! and filters, every later request is the `rel="next"` URL exactly as Greenhouse sent it (v3
//! rejects a cursor combined with any other parameter), and no `next` link means the last page.

use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::error::GreenhouseError;

/// One `<url>; rel="..."` entry of a Link header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkValue {
    pub url: String,
    /// Lower-cased relation types; `rel="next last"` yields two.
    pub rels: Vec<String>,
}

/// Parses a Link header value leniently: several entries separated by commas (URLs may contain
/// commas themselves), parameters in any order, quoted or bare, and garbage between entries
/// skipped rather than failing the whole header.
pub fn parse_link_header(value: &str) -> Vec<LinkValue> {
    let b = value.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        // Advance to the next `<`, which starts an entry.
        while i < b.len() && b[i] != b'<' {
            i += 1;
        }
        let Some(end) = value[i..].find('>').map(|p| i + p) else {
            break;
        };
        let url = value[i + 1..end].trim().to_string();
        i = end + 1;
        let mut rels = Vec::new();
        // Parameters until the comma that ends this entry (commas inside quotes don't count).
        while i < b.len() && b[i] != b',' {
            if b[i] != b';' {
                i += 1;
                continue;
            }
            i += 1;
            let name_start = i;
            while i < b.len() && !matches!(b[i], b'=' | b';' | b',') {
                i += 1;
            }
            let name = value[name_start..i].trim().to_ascii_lowercase();
            let mut param_value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' && i + 1 < b.len() {
                            i += 1;
                        }
                        // Quoted values are ASCII in practice; keep the byte as a char.
                        param_value.push(char::from(b[i]));
                        i += 1;
                    }
                    i += 1; // closing quote
                } else {
                    let start = i;
                    while i < b.len() && !matches!(b[i], b';' | b',') {
                        i += 1;
                    }
                    param_value = value[start..i].trim().to_string();
                }
            }
            if name == "rel" {
                rels.extend(param_value.split_whitespace().map(str::to_ascii_lowercase));
            }
        }
        out.push(LinkValue { url, rels });
    }
    out
}

/// The `rel="next"` URL among all Link header values of a response, if any.
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(parse_link_header)
        .find(|l| l.rels.iter().any(|r| r == "next"))
        .map(|l| l.url)
}

/// Resolves a next link against the URL that returned it and refuses to leave the Harvest
/// origin: the request would carry our credentials to whatever host the link names. Public for the
/// fuzz targets (docs/fuzzing.md).
pub fn resolve_next(current: &Url, link: &str) -> Result<Url, GreenhouseError> {
    let next = current
        .join(link)
        .map_err(|e| GreenhouseError::Decode(format!("unusable Link URL: {e}")))?;
    if next.origin() != current.origin() {
        return Err(GreenhouseError::Decode(format!(
            "Link header points to another origin ({}); not following it",
            next.origin().ascii_serialization()
        )));
    }
    Ok(next)
}

/// Decodes one page. Harvest v1 bodies are bare arrays; v3 list bodies are assumed to be arrays
/// too, but an object wrapping the array (`{"data": [...]}` or any single array field) is also
/// accepted, since the v3 envelope is unverified. Public for the fuzz targets (docs/fuzzing.md).
pub fn decode_page<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, GreenhouseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| GreenhouseError::Decode(format!("page is not JSON: {e}")))?;
    let items = match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        Value::Object(mut map) => {
            let key = ["data", "items", "results"]
                .into_iter()
                .find(|k| map.get(*k).is_some_and(Value::is_array))
                .map(str::to_string)
                .or_else(|| {
                    let arrays: Vec<&String> = map
                        .iter()
                        .filter(|(_, v)| v.is_array())
                        .map(|(k, _)| k)
                        .collect();
                    (arrays.len() == 1).then(|| arrays[0].clone())
                });
            match key.and_then(|k| map.remove(&k)) {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(GreenhouseError::Decode(
                        "page is an object without a list of results".into(),
                    ))
                }
            }
        }
        other => {
            return Err(GreenhouseError::Decode(format!(
                "page is a JSON {} instead of a list",
                json_kind(&other)
            )))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item)
                .map_err(|e| GreenhouseError::Decode(format!("item {i} of page: {e}")))
        })
        .collect()
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn documented_v1_header() {
        let h = "<https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2>; rel=\"next\",\n<https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2>; rel=\"last\"";
        let links = parse_link_header(h);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].rels, vec!["next"]);
        assert_eq!(links[1].rels, vec!["last"]);
        assert_eq!(
            next_link([h]).as_deref(),
            Some("https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2")
        );
    }

    #[test]
    fn next_not_first_commas_in_urls_and_odd_spacing() {
        let h = r#"<https://x/v1/a?page=1&ids=1,2,3>; rel="prev" , <https://x/v1/a?page=3&ids=1,2,3> ;REL = next; title="a, b",<https://x/v1/a?page=9>;rel=last"#;
        let links = parse_link_header(h);
        assert_eq!(links.len(), 3);
        assert_eq!(links[1].url, "https://x/v1/a?page=3&ids=1,2,3");
        assert_eq!(links[1].rels, vec!["next"]);
        assert_eq!(links[2].rels, vec!["last"]);
        assert_eq!(
            next_link([h]).as_deref(),
            Some("https://x/v1/a?page=3&ids=1,2,3")
        );
    }

    #[test]
    fn multiple_rels_and_multiple_headers() {
        assert_eq!(
            next_link(["<https://x/v3/u?cursor=abc>; rel=\"next last\""]).as_deref(),
            Some("https://x/v3/u?cursor=abc")
        );
        assert_eq!(
            next_link(["<https://x/1>; rel=\"prev\"", "<https://x/2>; rel=\"next\""]).as_deref(),
            Some("https://x/2")
        );
        assert_eq!(next_link(["<https://x/1>; rel=\"prev\""]), None);
        assert_eq!(next_link(["garbage", ""]), None);
        assert_eq!(next_link(std::iter::empty()), None);
    }

    #[test]
    fn next_link_must_stay_on_origin() {
        let cur = Url::parse("https://harvest.greenhouse.io/v3/users?per_page=2").unwrap();
        assert_eq!(
            resolve_next(&cur, "/v3/users?cursor=x").unwrap().as_str(),
            "https://harvest.greenhouse.io/v3/users?cursor=x"
        );
        assert!(resolve_next(&cur, "https://evil.example/v3/users?cursor=x").is_err());
    }

    #[test]
    fn page_envelopes() {
        let a: Vec<serde_json::Value> = decode_page(br#"[{"id":1},{"id":2}]"#).unwrap();
        assert_eq!(a.len(), 2);
        let b: Vec<serde_json::Value> = decode_page(br#"{"data":[{"id":1}],"meta":{}}"#).unwrap();
        assert_eq!(b.len(), 1);
        let c: Vec<serde_json::Value> = decode_page(br#"{"users":[{"id":1}]}"#).unwrap();
        assert_eq!(c.len(), 1);
        assert!(decode_page::<serde_json::Value>(br#""nope""#).is_err());
        assert!(decode_page::<serde_json::Value>(b"  ").unwrap().is_empty());
    }
}
