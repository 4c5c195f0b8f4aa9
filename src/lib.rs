//! Panelist control plane: Greenhouse sync and webhooks, the schedule, and the actors that send
//! note-taker bots to interviews.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consent;
pub mod dashboard;
pub mod domain;
pub mod fake_greenhouse;
pub mod greenhouse;
pub mod http;
pub mod models;
pub mod notes;
pub mod pipeline;
pub mod poster;
pub mod privacy;
pub mod settings;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod supervisor;
pub mod sync;
pub mod telemetry;
pub mod transcribe;
pub mod webhooks;
