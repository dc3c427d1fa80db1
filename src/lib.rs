//! msgmeter: meters, bills and analyses business messaging.
//!
//! The library is the product; `src/main.rs` is a thin CLI over it. Data flows raw logs →
//! [`ingest`] → the lake's `events` table ([`lake`], [`schema`]) → derived tables, invoices
//! and reports (later stages). The contract is the
//! project's spec (its README, events.md, billing.md, metrics.md).

pub mod accounts;
pub mod analytics;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod documents;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod interrupt;
pub mod invoicing;
pub mod lake;
pub mod memory;
pub mod metering;
pub mod money;
pub mod pipeline;
pub mod pricing;
pub mod query;
pub mod schema;
pub mod settings;
pub mod time;
pub mod timing;

pub use error::{Error, Result};
