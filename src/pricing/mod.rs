//! Pricing rules as data, read by ingest (markets) and, later, by metering and billing.
pub mod markets;
pub mod rates;
pub mod rules;
