//! The billed usage of a month (billing.md §5): `usage_daily` rows of the source
//! `billing_sources` names for each business × month — what invoices are computed from.

use msgmeter::lake::billed::{billed_usage, BilledSources};
use msgmeter::lake::Lake;
use polars::prelude::*;

use crate::common::*;
use crate::metering_common::build_all;

#[test]
fn billed_usage_is_the_usage_of_the_billed_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    build_all(&lake);
    let l = Lake::new(&lake);
    let got = billed_usage(&l, "2025-10".parse().unwrap())
        .unwrap()
        .group_by([col("business_id"), col("source")])
        .agg([col("units").sum().alias("units")])
        .sort(["business_id"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    // The same by a second method: SQL over the tables.
    let want = query(
        &lake,
        "SELECT u.business_id, u.source, sum(u.units) AS units FROM usage_daily u \
         JOIN billing_sources b ON u.business_id = b.business_id \
         AND u.billing_month = b.billing_month AND u.source = b.source \
         WHERE u.billing_month = '2025-10' GROUP BY u.business_id, u.source ORDER BY u.business_id",
    );
    assert!(got.height() > 1);
    assert_eq!(strings(&got, "business_id"), strings(&want, "business_id"));
    assert_eq!(strings(&got, "source"), strings(&want, "source"));
    assert_eq!(strings(&got, "units"), strings(&want, "units"));
    // One source per business, and it is the one billing_sources names.
    let billed = BilledSources::read(&l).unwrap();
    let businesses = strings(&got, "business_id");
    let sources = strings(&got, "source");
    for (b, s) in businesses.iter().zip(&sources) {
        assert_eq!(
            billed.of(b.as_deref().unwrap(), "2025-10"),
            s.as_deref().unwrap()
        );
    }
    // A month with no usage is empty, not an error.
    assert_eq!(
        billed_usage(&l, "2024-01".parse().unwrap())
            .unwrap()
            .collect()
            .unwrap()
            .height(),
        0
    );
}
