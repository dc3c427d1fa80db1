//! The lake's Parquet writer: polars' own page encoder and file writer
//! (`polars-parquet`, the code under polars' `ParquetWriter`), with one choice polars does
//! not offer: which text columns are dictionary-encoded.
//!
//! polars tries a dictionary on every text column of every row group: it estimates the
//! column's distinct values (HyperLogLog over all of them) and, below three quarters,
//! builds the dictionary with a hash of every value. On `customer_key`, `message_id` or
//! `conversation_id` (a few repeats each) that hashing was most of the cost of writing
//! the `events` table and `reply_waits` (`perf` of a 1M-event ingest: polars' dictionary
//! work was 0.7 of 9 CPU-seconds), and it buys little: zstd already folds the repeats
//! of a plain page. Here a text column is dictionary-encoded only when a sample of its
//! row group is mostly repeats ([`DICTIONARY_SAMPLE`], [`DICTIONARY_MAX_DISTINCT_SHARE`]);
//! every other column is encoded as polars would.
//!
//! Everything else is as before: zstd level 1, min/max/null-count statistics, row groups of
//! [`ROW_GROUP_ROWS`](super::ROW_GROUP_ROWS), the Arrow schema and
//! `msgmeter.schema_version` in the key-value metadata. The choice depends on the data
//! alone, so the same frame gives the same bytes.

use std::collections::HashSet;
use std::io::Write;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray};
use polars_parquet::write::{
    array_to_columns, schema_to_metadata_key, to_parquet_schema, CompressionOptions, Compressor,
    DynIter, DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, KeyValue,
    StatisticsOptions, Version, WriteOptions, ZstdLevel,
};
use rayon::prelude::*;

use crate::schema::{SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// Values of a text column sampled (from the start of each row group) to decide its
/// encoding.
pub const DICTIONARY_SAMPLE: usize = 4096;
/// A text column is dictionary-encoded when at most this share of its sampled values are
/// distinct: the business, event type, market, status, template category columns (a few
/// dozen values in thousands), not keys and ids.
pub const DICTIONARY_MAX_DISTINCT_SHARE: f64 = 0.1;

/// How a text column's pages are encoded, from a sample of its values. Other columns are
/// left to polars (`RleDictionary` is its choice for numbers too, which it abandons
/// cheaply from their range).
pub fn text_encoding(array: &Utf8ViewArray) -> Encoding {
    let mut distinct: HashSet<&str, foldhash::fast::FixedState> = HashSet::default();
    let mut sampled = 0usize;
    for value in array.iter().flatten().take(DICTIONARY_SAMPLE) {
        distinct.insert(value);
        sampled += 1;
    }
    if sampled > 0 && distinct.len() as f64 > DICTIONARY_MAX_DISTINCT_SHARE * sampled as f64 {
        Encoding::Plain
    } else {
        Encoding::RleDictionary
    }
}

fn encoding_of(array: &dyn Array) -> Encoding {
    match array.as_any().downcast_ref::<Utf8ViewArray>() {
        Some(text) => text_encoding(text),
        None => Encoding::RleDictionary,
    }
}

/// Write `df` as one Parquet file to `w`, in row groups of `row_group_rows`.
pub fn write(w: impl Write, df: &mut DataFrame, row_group_rows: usize) -> PolarsResult<()> {
    let df = polars_core::frame::chunk_df_for_writing(df, row_group_rows)?;
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(Some(ZstdLevel::try_new(1)?)),
        data_page_size: None,
    };
    let parquet_schema = to_parquet_schema(&schema)?;
    let mut writer = FileWriter::try_new(w, schema, options)?;
    for batch in df.iter_chunks(CompatLevel::newest(), false) {
        if batch.is_empty() {
            continue;
        }
        // Columns encoded and compressed side by side on polars' threads, as polars does.
        let columns = polars_core::runtime::RAYON.install(|| {
            batch
                .columns()
                .par_iter()
                .zip(parquet_schema.fields())
                .map(|(array, parquet_type)| {
                    let encoding = encoding_of(array.as_ref());
                    let pages =
                        array_to_columns(array, parquet_type.clone(), options, &[encoding])?;
                    Ok(pages
                        .into_iter()
                        .map(|pages| {
                            let compressed = Compressor::new_from_vec(
                                pages.map(|page| {
                                    page.map_err(|e| {
                                        polars_parquet::read::ParquetError::FeatureNotSupported(
                                            format!("reraised in polars: {e}"),
                                        )
                                    })
                                }),
                                options.compression,
                                vec![],
                            )
                            .map_err(PolarsError::from);
                            Ok(DynStreamingIterator::new(compressed))
                        })
                        .collect::<Vec<_>>())
                })
                .collect::<PolarsResult<Vec<_>>>()
        })?;
        writer.write(
            batch.len() as u64,
            DynIter::new(columns.into_iter().flatten()),
        )?;
    }
    let metadata = vec![
        schema_to_metadata_key(writer.schema()),
        KeyValue {
            key: SCHEMA_VERSION_KEY.to_string(),
            value: Some(SCHEMA_VERSION.to_string()),
        },
    ];
    writer.end(Some(metadata))?;
    Ok(())
}
