//! Per-message pricing (billing.md §4): each delivered message gets a pricing type.
//!
//! - inside a free-entry-point window → `free_entry_point`, keeping its own category;
//! - a marketing or authentication template → `regular`;
//! - a utility template → `free_customer_service` inside an open customer-service window
//!   when the period says in-window utility is free, else `regular`;
//! - a non-template message → category `service`, free while the period says service is
//!   free (until 2026-10-01), else `regular`.

use crate::pricing::rules::Period;

use super::timeline::{FREE_CUSTOMER_SERVICE, FREE_ENTRY_POINT, REGULAR};

/// The pricing type of one delivered message under PMP.
pub fn pricing_type(
    period: &Period,
    is_template: bool,
    category: &str,
    in_entry_point_window: bool,
    in_service_window: bool,
) -> &'static str {
    if in_entry_point_window {
        FREE_ENTRY_POINT
    } else if !is_template {
        if period.service_free {
            FREE_CUSTOMER_SERVICE
        } else {
            REGULAR
        }
    } else if category == "utility" && in_service_window && period.utility_in_window_free {
        FREE_CUSTOMER_SERVICE
    } else {
        REGULAR
    }
}
