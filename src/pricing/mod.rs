//! Pricing rules as data, read by ingest (markets), metering and billing: markets, the rate
//! card, the periods of pricing rules, and the metering sources.
pub mod markets;
pub mod rates;
pub mod rules;
pub mod source;
