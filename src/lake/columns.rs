//! Building a table's frame from Rust values, cast to the one schema of `schema.rs`, so
//! every writer of a derived table produces exactly the declared columns and types.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{Error, PolarsContext, Result};
use crate::schema::Table;

pub fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

pub fn timestamps(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    numbers::<Int64Type>(name, values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

pub fn dates(name: &str, values: impl Iterator<Item = Option<NaiveDate>>) -> Column {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    numbers::<Int32Type>(
        name,
        values.map(|d| d.map(|d| (d - epoch).num_days() as i32)),
    )
    .into_date()
    .into_column()
}

pub fn bools(name: &str, values: impl Iterator<Item = Option<bool>>) -> Column {
    BooleanChunked::from_iter_options(name.into(), values).into_column()
}

pub fn ints(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    numbers::<Int64Type>(name, values).into_column()
}

/// Exact decimals at `scale` places (Parquet DECIMAL(precision, scale)). A value with
/// more places is rounded half away from zero; callers pass values already at or below the
/// scale (money is rounded by `crate::money` before it gets here).
pub fn decimals(
    name: &str,
    values: impl Iterator<Item = Option<rust_decimal::Decimal>>,
    precision: usize,
    scale: usize,
) -> Result<Column> {
    let mantissas = values.map(|v| {
        v.map(|mut d| {
            d = d.round_dp_with_strategy(
                scale as u32,
                rust_decimal::RoundingStrategy::MidpointAwayFromZero,
            );
            d.rescale(scale as u32);
            d.mantissa()
        })
    });
    Ok(Int128Chunked::from_iter_options(name.into(), mantissas)
        .into_decimal(precision, scale)
        .ctx(format!("column {name}"))?
        .into_column())
}

/// A decimal column's values, exactly.
pub fn decimal_values(df: &DataFrame, name: &str) -> Result<Vec<Option<rust_decimal::Decimal>>> {
    let column = df.column(name).ctx(format!("column {name}"))?;
    let d = column
        .as_materialized_series()
        .decimal()
        .ctx(format!("column {name} as a decimal"))?;
    let scale = d.scale() as u32;
    Ok(d.physical()
        .iter()
        .map(|v| v.map(|m| rust_decimal::Decimal::from_i128_with_scale(m, scale)))
        .collect())
}

/// Dates of a date column.
pub fn date_values(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>> {
    let column = df.column(name).ctx(format!("column {name}"))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let days = column
        .as_materialized_series()
        .date()
        .ctx(format!("column {name} as a date"))?
        .physical()
        .clone();
    Ok(days
        .iter()
        .map(|v| v.map(|d| epoch + chrono::Duration::days(d as i64)))
        .collect())
}

/// A numeric column in one pass: the values and which are set, the latter dropped when
/// every value is (a derived table's columns are mostly of one kind or the other).
fn numbers<T: PolarsNumericType>(
    name: &str,
    values: impl Iterator<Item = Option<T::Native>>,
) -> ChunkedArray<T> {
    let room = values.size_hint().0;
    let (mut set, mut is_set) = (Vec::with_capacity(room), Vec::with_capacity(room));
    let mut nulls = 0;
    for v in values {
        set.push(v.unwrap_or_default());
        is_set.push(v.is_some());
        nulls += v.is_none() as usize;
    }
    let validity = (nulls > 0).then(|| is_set.into_iter().collect());
    ChunkedArray::from_vec_validity(name.into(), set, validity)
}

/// A frame of `table` from its columns, checked against the schema (names, order) and cast
/// to its types.
pub fn table_frame(table: &Table, height: usize, columns: Vec<Column>) -> Result<DataFrame> {
    let names: Vec<&str> = columns.iter().map(|c| c.name().as_str()).collect();
    let expected: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    if names != expected {
        return Err(Error::Failed {
            what: format!("building the {} table", table.name),
            message: format!("columns {names:?} differ from the schema's {expected:?}"),
        });
    }
    let cast: Vec<Column> = columns
        .into_iter()
        .zip(table.columns)
        .map(|(c, def)| c.cast(&def.kind.polars()))
        .collect::<PolarsResult<_>>()
        .ctx(format!("casting the {} table to its schema", table.name))?;
    DataFrame::new(height, cast).ctx(format!("building the {} table", table.name))
}

/// An empty frame of `table`: written for a date with no rows, so the date reads as built.
pub fn empty_frame(table: &Table) -> DataFrame {
    DataFrame::empty_with_schema(&table.polars_schema())
}

/// Read a column as text values.
pub fn str_values(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(name).ctx(format!("column {name}"))?;
    let s = c.str().ctx(format!("column {name} as text"))?;
    Ok(s.iter().map(|v| v.map(str::to_string)).collect())
}

/// Read a timestamp (or integer) column as microseconds.
pub fn i64_values(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let c = df
        .column(name)
        .ctx(format!("column {name}"))?
        .cast(&DataType::Int64)
        .ctx(format!("column {name} as integers"))?;
    let s = c.i64().ctx(format!("column {name} as integers"))?;
    Ok(s.iter().collect())
}

pub fn bool_values(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    let c = df.column(name).ctx(format!("column {name}"))?;
    let s = c.bool().ctx(format!("column {name} as booleans"))?;
    Ok(s.iter().collect())
}

/// A text column as one contiguous chunk, for indexed `get` in row loops.
pub fn str_column(df: &DataFrame, name: &str) -> Result<StringChunked> {
    let c = df.column(name).ctx(format!("column {name}"))?;
    Ok(c.str()
        .ctx(format!("column {name} as text"))?
        .rechunk()
        .into_owned())
}

/// An integer or timestamp column (as µs) as one contiguous chunk.
pub fn i64_column(df: &DataFrame, name: &str) -> Result<Int64Chunked> {
    let c = df
        .column(name)
        .ctx(format!("column {name}"))?
        .cast(&DataType::Int64)
        .ctx(format!("column {name} as integers"))?;
    Ok(c.i64()
        .ctx(format!("column {name} as integers"))?
        .rechunk()
        .into_owned())
}

/// A boolean column as one contiguous chunk.
pub fn bool_column(df: &DataFrame, name: &str) -> Result<BooleanChunked> {
    let c = df.column(name).ctx(format!("column {name}"))?;
    Ok(c.bool()
        .ctx(format!("column {name} as booleans"))?
        .rechunk()
        .into_owned())
}
