//! Greenhouse Harvest client (v3 and legacy v1): one concrete client for both API versions.
//!
//! - `routes`: the one table of paths/parameters per version and the v3 date-filter encoding.
//! - `config`: credentials, configuration, stats; `client`: construction and listing;
//!   `engine`: sending (auth, rate budget, timeouts, retries, error mapping).
//! - `auth`: v1 Basic header and the v3 OAuth token cache.
//! - `ratelimit`: the per-account request budget driven by `X-RateLimit-*` headers.
//! - `pagination`: `Link` header parsing and page decoding.
//! - `lookups`, `notes`: the single-purpose reads and the note write.

mod auth;
mod client;
mod config;
mod engine;
mod error;
mod lookups;
mod notes;
pub mod pagination;
mod ratelimit;
mod resource;
pub mod routes;

pub use client::GreenhouseClient;
pub use config::{ClientConfig, ClientStats, Credentials};
pub use error::{FieldError, GreenhouseError};
pub use notes::{NewNote, Note, Visibility};
pub use pagination::{next_link, parse_link_header, LinkValue};
pub use resource::{ListFilter, Resource};
pub use routes::{v3_date_filter, Cmp};
