//! The one integration-test binary (polars links once). Modules follow the spec's
//! sections; every expected value is computed by hand (see the `.expected.md` files beside
//! the fixtures) or by an independent method, never copied from msgmeter's output.

mod common;
mod metering_common;

mod accounts;
mod analytics;
mod analytics_pipeline;
mod billed;
mod cli;
mod dense_day;
mod documents;
mod duckdb_views;
mod fixtures;
mod ingest_trust;
mod invoices;
mod invoices_common;
mod lake;
mod markets;
mod metering;
mod metering_properties;
mod normalisation;
mod pricing_data;
mod privacy;
mod properties;
mod quarantine;
mod query;
mod rebuild;
mod run_status;
mod snapshots;
mod spill;
mod time;
