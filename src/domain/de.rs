//! Serde helpers for Greenhouse's habit of sending `null` where a list or value is expected.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default, so `"tags": null` reads as an empty list.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The best human name from Greenhouse's optional name parts.
pub fn display_name(
    name: &Option<String>,
    first: &Option<String>,
    last: &Option<String>,
    id: i64,
) -> String {
    if let Some(n) = name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        return n.to_string();
    }
    let joined = [first.as_deref(), last.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if joined.is_empty() {
        format!("#{id}")
    } else {
        joined
    }
}

/// The two shapes a location arrives in.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum LocationRepr {
    Plain(String),
    Object {
        #[serde(default)]
        name: Option<String>,
    },
}
