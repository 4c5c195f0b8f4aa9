//! The media plane: joins video calls and captures each participant's audio.
//!
//! No actix, Greenhouse or Redis lives here. This crate starts with the platform registry,
//! which the control plane already needs to tell a supported meeting URL from an unsupported one.

pub mod platform;
