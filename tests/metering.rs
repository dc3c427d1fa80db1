//! billing.md §1–§5, one test per rule, each on a tiny timeline checked by hand. Every
//! expected line reads `billing_date market category model pricing_type billable units`.

use crate::common::{query, string};
use crate::metering_common::*;

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- per-message pricing

#[test]
fn pmp_marketing_then_two_utility_templates_is_three_charges() {
    // Meta's example: no customer-service window is open, so every template is charged.
    let mut s = Script::new();
    s.template_delivered(BR, "m1", "marketing", "2025-10-01T10:00:00Z")
        .template_delivered(BR, "u1", "utility", "2025-10-01T10:05:00Z")
        .template_delivered(BR, "u2", "utility", "2025-10-01T10:10:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2025-10-01 Brazil marketing PMP regular true 1",
            "2025-10-01 Brazil utility PMP regular true 2",
        ])
    );
}

#[test]
fn pmp_utility_templates_inside_an_open_service_window_are_free() {
    // Meta's example: the same three templates while the customer's window is open: 1 charge.
    let mut s = Script::new();
    s.customer_writes(BR, "2025-10-01T09:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2025-10-01T10:00:00Z")
        .template_delivered(BR, "u1", "utility", "2025-10-01T10:05:00Z")
        .template_delivered(BR, "u2", "utility", "2025-10-01T10:10:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2025-10-01 Brazil marketing PMP regular true 1",
            "2025-10-01 Brazil utility PMP free_customer_service false 2",
        ])
    );
}

#[test]
fn the_service_window_is_half_open_and_slides_with_the_latest_customer_message() {
    // Window from 09:00 (+24 h) refreshed by 12:00: open until 12:00 next day, exclusive.
    let mut s = Script::new();
    s.customer_writes(BR, "2025-10-01T09:00:00Z")
        .customer_writes(BR, "2025-10-01T12:00:00Z")
        .template_delivered(BR, "u1", "utility", "2025-10-02T11:59:59Z")
        .template_delivered(BR, "u2", "utility", "2025-10-02T12:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2025-10-02 Brazil utility PMP free_customer_service false 1",
            "2025-10-02 Brazil utility PMP regular true 1",
        ])
    );
}

#[test]
fn pmp_non_template_messages_are_free_service_before_2026_10_01() {
    let mut s = Script::new();
    s.customer_writes(BR, "2025-10-01T09:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-01T09:01:00Z")
        .reply_delivered(BR, "r2", "2025-10-01T09:02:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&["2025-10-01 Brazil service PMP free_customer_service false 2"])
    );
}

#[test]
fn read_without_delivered_counts_as_delivered() {
    let mut s = Script::new();
    s.template(BR, "m1", "marketing", "2025-10-01T10:00:00Z")
        .status("m1", "sent", "2025-10-01T10:00:01Z")
        .status("m1", "read", "2025-10-01T10:07:00Z");
    let lake = ingested(&s);
    lake.build(None, None);
    assert_eq!(
        lake.usage("derived"),
        lines(&["2025-10-01 Brazil marketing PMP regular true 1"])
    );
    let delivered = query(
        &lake.lake(),
        "SELECT CAST(delivered_at AS VARCHAR) AS d FROM messages WHERE message_id = 'm1'",
    );
    assert!(
        string(&delivered, "d", 0)
            .unwrap()
            .starts_with("2025-10-01 10:07:00"),
        "delivered at the read: {delivered}"
    );
}

#[test]
fn failed_or_never_delivered_messages_are_free_but_failed_then_delivered_is_charged() {
    let mut s = Script::new();
    s.template(BR, "f1", "marketing", "2025-10-01T10:00:00Z")
        .status("f1", "failed", "2025-10-01T10:00:05Z")
        .template(BR, "s1", "marketing", "2025-10-01T10:01:00Z")
        .status("s1", "sent", "2025-10-01T10:01:01Z")
        // Multi-device: failed on one device, delivered on another.
        .template(BR, "fd", "marketing", "2025-10-01T10:02:00Z")
        .status("fd", "failed", "2025-10-01T10:02:01Z")
        .delivered("fd", "2025-10-01T10:02:09Z");
    assert_eq!(
        derived_usage(&s),
        lines(&["2025-10-01 Brazil marketing PMP regular true 1"])
    );
}

#[test]
fn a_reply_delivered_within_24h_of_an_ad_referral_opens_72_hours_of_free_messages() {
    // Referral 10:00; the reply delivered 10:30 opens [10:30, +72 h): templates inside it,
    // of any category, are free entry points; the first one after it is charged.
    let mut s = Script::new();
    s.customer_writes_from_ad(BR, "2025-10-01T10:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-01T10:30:00Z")
        .template_delivered(BR, "m1", "marketing", "2025-10-03T10:00:00Z")
        .template_delivered(BR, "m2", "marketing", "2025-10-04T10:29:59Z")
        .template_delivered(BR, "m3", "marketing", "2025-10-04T10:30:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2025-10-01 Brazil service PMP free_entry_point false 1",
            "2025-10-03 Brazil marketing PMP free_entry_point false 1",
            "2025-10-04 Brazil marketing PMP free_entry_point false 1",
            "2025-10-04 Brazil marketing PMP regular true 1",
        ])
    );
}

#[test]
fn a_reply_delivered_24h_or_more_after_the_referral_opens_no_entry_point() {
    let mut s = Script::new();
    s.customer_writes_from_ad(BR, "2025-10-01T10:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2025-10-02T10:00:00Z")
        .template_delivered(BR, "m2", "marketing", "2025-10-02T11:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&["2025-10-02 Brazil marketing PMP regular true 2"])
    );
}

#[test]
fn from_2026_10_01_service_and_in_window_utility_are_charged() {
    let mut s = Script::new();
    s.customer_writes(BR, "2026-09-30T23:00:00Z")
        .reply_delivered(BR, "r1", "2026-09-30T23:59:59Z")
        .template_delivered(BR, "u1", "utility", "2026-09-30T23:59:59Z")
        .reply_delivered(BR, "r2", "2026-10-01T00:00:00Z")
        .template_delivered(BR, "u2", "utility", "2026-10-01T00:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2026-09-30 Brazil service PMP free_customer_service false 1",
            "2026-09-30 Brazil utility PMP free_customer_service false 1",
            "2026-10-01 Brazil service PMP regular true 1",
            "2026-10-01 Brazil utility PMP regular true 1",
        ])
    );
}

#[test]
fn authentication_to_another_country_is_international_where_the_card_prices_it() {
    // Brazilian account, eligible: India has an authentication_international rate, Mexico
    // has none; a Brazilian customer is domestic.
    let mut s = Script::new();
    s.template_delivered(IN, "a1", "authentication", "2025-10-01T10:00:00Z")
        .template_delivered(MX, "a2", "authentication", "2025-10-01T10:00:00Z")
        .template_delivered(BR, "a3", "authentication", "2025-10-01T10:00:00Z");
    let lake = ingested_with(&s, accounts("UTC", true));
    lake.build(None, None);
    assert_eq!(
        lake.usage("derived"),
        lines(&[
            "2025-10-01 Brazil authentication PMP regular true 1",
            "2025-10-01 India authentication_international PMP regular true 1",
            "2025-10-01 Mexico authentication PMP regular true 1",
        ])
    );
    // Not eligible: all plain authentication.
    let lake = ingested_with(&s, accounts("UTC", false));
    lake.build(None, None);
    assert_eq!(
        lake.usage("derived"),
        lines(&[
            "2025-10-01 Brazil authentication PMP regular true 1",
            "2025-10-01 India authentication PMP regular true 1",
            "2025-10-01 Mexico authentication PMP regular true 1",
        ])
    );
}

#[test]
fn an_unknown_template_category_is_kept_as_its_own_value() {
    let mut s = Script::new();
    s.template_delivered(BR, "x1", "loyalty_points", "2025-10-01T10:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&["2025-10-01 Brazil loyalty_points PMP regular true 1"])
    );
}

// ---------------------------------------------------------- conversation-based pricing

#[test]
fn cbp_an_open_authentication_conversation_absorbs_another_authentication_template() {
    // Meta's example: authentication + authentication within 24 h = one conversation;
    // a marketing template opens a second one.
    let mut s = Script::new();
    s.template_delivered(BR, "a1", "authentication", "2024-03-05T10:00:00Z")
        .template_delivered(BR, "a2", "authentication", "2024-03-05T20:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2024-03-05T21:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2024-03-05 Brazil authentication CBP regular true 1",
            "2024-03-05 Brazil marketing CBP regular true 1",
        ])
    );
}

#[test]
fn cbp_a_conversation_lasts_24_hours_from_its_opening_and_does_not_slide() {
    let mut s = Script::new();
    s.template_delivered(BR, "u1", "utility", "2024-03-05T10:00:00Z")
        .template_delivered(BR, "u2", "utility", "2024-03-06T09:59:59Z")
        .template_delivered(BR, "u3", "utility", "2024-03-06T10:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2024-03-05 Brazil utility CBP regular true 1",
            "2024-03-06 Brazil utility CBP regular true 1",
        ])
    );
}

#[test]
fn cbp_a_free_form_reply_with_any_conversation_open_opens_nothing_new() {
    let mut s = Script::new();
    s.customer_writes(BR, "2024-03-05T09:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2024-03-05T09:30:00Z")
        .reply_delivered(BR, "r1", "2024-03-05T10:00:00Z")
        .reply_delivered(BR, "r2", "2024-03-05T11:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&["2024-03-05 Brazil marketing CBP regular true 1"])
    );
}

#[test]
fn cbp_a_free_form_reply_with_nothing_open_opens_a_service_conversation() {
    // March 2024: service conversations are charged, but the month's first 1,000 are free.
    let mut s = Script::new();
    s.customer_writes(BR, "2024-03-05T09:00:00Z")
        .reply_delivered(BR, "r1", "2024-03-05T09:10:00Z")
        .reply_delivered(BR, "r2", "2024-03-05T09:20:00Z")
        .template_delivered(BR, "u1", "utility", "2024-03-05T09:30:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2024-03-05 Brazil service CBP free_tier false 1",
            "2024-03-05 Brazil utility CBP regular true 1",
        ])
    );
}

#[test]
fn cbp_service_conversations_are_free_from_2024_11_01() {
    let mut s = Script::new();
    s.customer_writes(BR, "2024-10-31T23:00:00Z")
        .customer_writes(BR2, "2024-10-31T23:00:00Z")
        .reply_delivered(BR, "r1", "2024-10-31T23:59:59Z")
        .reply_delivered(BR2, "r2", "2024-11-01T00:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2024-10-31 Brazil service CBP free_tier false 1",
            "2024-11-01 Brazil service CBP free_customer_service false 1",
        ])
    );
}

#[test]
fn cbp_free_entry_point_conversation_covers_72_hours_templates_included() {
    let mut s = Script::new();
    s.customer_writes_from_ad(BR, "2024-12-01T10:00:00Z")
        .reply_delivered(BR, "r1", "2024-12-01T10:05:00Z")
        .template_delivered(BR, "m1", "marketing", "2024-12-03T10:00:00Z")
        .template_delivered(BR, "m2", "marketing", "2024-12-04T10:05:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2024-12-01 Brazil referral_conversion CBP free_entry_point false 1",
            "2024-12-04 Brazil marketing CBP regular true 1",
        ])
    );
}

#[test]
fn cbp_2022_one_conversation_at_a_time_business_or_user_initiated() {
    // A template opens business_initiated; the reply inside its 24 h joins it; a reply
    // after it expires opens user_initiated. The month's first 1,000 are free.
    let mut s = Script::new();
    s.customer_writes(BR, "2022-06-01T09:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2022-06-01T10:00:00Z")
        .reply_delivered(BR, "r1", "2022-06-01T11:00:00Z")
        .template_delivered(BR, "u1", "utility", "2022-06-01T12:00:00Z")
        .customer_writes(BR, "2022-06-02T10:30:00Z")
        .reply_delivered(BR, "r2", "2022-06-02T10:31:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2022-06-01 Brazil business_initiated CBP free_tier false 1",
            "2022-06-02 Brazil user_initiated CBP free_tier false 1",
        ])
    );
}

fn customer(i: usize) -> String {
    format!("+55119{:08}", i)
}

#[test]
fn cbp_2022_the_first_1000_conversations_of_the_month_are_free() {
    // 1,001 customers each get one template on 2022-06-10, a minute apart; the 1,001st
    // conversation by opening time is charged. July starts a new allowance.
    let mut s = Script::new();
    for i in 0..1001 {
        let at = chrono::DateTime::parse_from_rfc3339("2022-06-10T00:00:00Z").unwrap()
            + chrono::Duration::minutes(i as i64);
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        s.template_delivered(&customer(i), &format!("t{i}"), "marketing", &at);
    }
    s.template_delivered(&customer(0), "july", "marketing", "2022-07-01T00:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2022-06-10 Brazil business_initiated CBP free_tier false 1000",
            "2022-06-10 Brazil business_initiated CBP regular true 1",
            "2022-07-01 Brazil business_initiated CBP free_tier false 1",
        ])
    );
}

#[test]
fn cbp_2023_the_allowance_covers_service_conversations_only() {
    // 1,001 service conversations over two days (the allowance carries across days), and
    // a marketing one that does not draw on it.
    let mut s = Script::new();
    s.template_delivered(&customer(5000), "mk", "marketing", "2023-09-01T00:00:00Z");
    for i in 0..1001 {
        let at = chrono::DateTime::parse_from_rfc3339("2023-09-01T12:00:00Z").unwrap()
            + chrono::Duration::minutes(i as i64);
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        s.customer_writes(&customer(i), &at);
        s.reply_delivered(&customer(i), &format!("r{i}"), &at);
    }
    // 12:00 + 1,000 minutes = 02:40 the next day: 720 on 09-01, 281 on 09-02, the last charged.
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2023-09-01 Brazil marketing CBP regular true 1",
            "2023-09-01 Brazil service CBP free_tier false 720",
            "2023-09-02 Brazil service CBP free_tier false 280",
            "2023-09-02 Brazil service CBP regular true 1",
        ])
    );
}

// ----------------------------------------------------------- switches at midnight

#[test]
fn the_2023_06_01_switch_to_four_categories_is_exactly_at_midnight() {
    let mut s = Script::new();
    s.template_delivered(BR, "m1", "marketing", "2023-05-31T23:59:59Z")
        .template_delivered(BR2, "m2", "marketing", "2023-06-01T00:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2023-05-31 Brazil business_initiated CBP free_tier false 1",
            "2023-06-01 Brazil marketing CBP regular true 1",
        ])
    );
}

#[test]
fn the_2025_07_01_switch_to_per_message_does_not_extend_an_open_conversation() {
    // m1 opens a marketing conversation at 23:00 and m0 joins it; m2 at midnight falls in
    // its 24 h but is priced per message.
    let mut s = Script::new();
    s.template_delivered(BR, "m1", "marketing", "2025-06-30T23:00:00Z")
        .template_delivered(BR, "m0", "marketing", "2025-06-30T23:59:59Z")
        .template_delivered(BR, "m2", "marketing", "2025-07-01T00:00:00Z");
    assert_eq!(
        derived_usage(&s),
        lines(&[
            "2025-06-30 Brazil marketing CBP regular true 1",
            "2025-07-01 Brazil marketing PMP regular true 1",
        ])
    );
}

#[test]
fn rule_periods_follow_the_accounts_billing_time_zone() {
    // 2025-07-01 02:00 UTC is 2025-06-30 23:00 in São Paulo: still CBP, billed on 06-30.
    let mut s = Script::new();
    s.template_delivered(BR, "m1", "marketing", "2025-07-01T02:00:00Z")
        .template_delivered(BR2, "m2", "marketing", "2025-07-01T03:00:00Z");
    let lake = ingested_with(&s, accounts("America/Sao_Paulo", false));
    lake.build(None, None);
    assert_eq!(
        lake.usage("derived"),
        lines(&[
            "2025-06-30 Brazil marketing CBP regular true 1",
            "2025-07-01 Brazil marketing PMP regular true 1",
        ])
    );
    let month = query(
        &lake.lake(),
        "SELECT billing_month FROM usage_daily WHERE pricing_model = 'CBP'",
    );
    assert_eq!(
        string(&month, "billing_month", 0).as_deref(),
        Some("2025-06")
    );
}

// ------------------------------------------------------------ windows across days

#[test]
fn a_conversation_open_at_midnight_carries_into_the_next_days_build() {
    // Built one day at a time: the 23:00 utility conversation absorbs the 09:00 template.
    let mut s = Script::new();
    s.template_delivered(BR, "u1", "utility", "2024-03-05T23:00:00Z")
        .template_delivered(BR, "u2", "utility", "2024-03-06T09:00:00Z")
        .template_delivered(BR, "u3", "utility", "2024-03-06T23:00:00Z");
    let lake = ingested(&s);
    lake.build(Some("2024-03-05"), Some("2024-03-05"));
    lake.build(Some("2024-03-06"), Some("2024-03-06"));
    assert_eq!(
        lake.usage("derived"),
        lines(&[
            "2024-03-05 Brazil utility CBP regular true 1",
            "2024-03-06 Brazil utility CBP regular true 1",
        ])
    );
}

#[test]
fn building_a_later_cbp_date_alone_first_builds_the_unbuilt_days_before_it() {
    let mut s = Script::new();
    s.template_delivered(BR, "u1", "utility", "2024-03-05T23:00:00Z")
        .template_delivered(BR, "u2", "utility", "2024-03-06T09:00:00Z");
    let lake = ingested(&s);
    lake.build(Some("2024-03-06"), Some("2024-03-06"));
    assert_eq!(
        lake.usage("derived"),
        lines(&["2024-03-05 Brazil utility CBP regular true 1"])
    );
}

#[test]
fn an_entry_point_window_opened_days_before_is_seen_by_a_single_day_build() {
    let mut s = Script::new();
    s.customer_writes_from_ad(BR, "2025-10-01T10:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-01T12:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2025-10-04T11:59:59Z");
    let lake = ingested(&s);
    lake.build(Some("2025-10-04"), Some("2025-10-04"));
    assert_eq!(
        lake.usage("derived"),
        lines(&["2025-10-04 Brazil marketing PMP free_entry_point false 1"])
    );
}

#[test]
fn on_the_first_utc_day_an_account_west_of_utc_still_counts_its_ending_month() {
    // São Paulo (UTC−3): 1,000 service conversations on 2023-09-10 use September's
    // allowance; 2023-10-01 00:30 UTC is still 30 September locally, so the next service
    // conversation is charged — also when 2023-10-01 is built on its own.
    let mut s = Script::new();
    for i in 0..1000 {
        let at = chrono::DateTime::parse_from_rfc3339("2023-09-10T12:00:00Z").unwrap()
            + chrono::Duration::seconds(i as i64 * 30);
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        s.customer_writes(&customer(i), &at);
        s.reply_delivered(&customer(i), &format!("r{i}"), &at);
    }
    s.customer_writes(&customer(2000), "2023-10-01T00:30:00Z")
        .reply_delivered(&customer(2000), "late", "2023-10-01T00:30:00Z");
    let lake = ingested_with(&s, accounts("America/Sao_Paulo", false));
    lake.build(Some("2023-09-10"), Some("2023-09-10"));
    lake.build(Some("2023-10-01"), Some("2023-10-01"));
    assert_eq!(
        lake.usage("derived"),
        lines(&[
            "2023-09-10 Brazil service CBP free_tier false 1000",
            "2023-09-30 Brazil service CBP regular true 1",
        ])
    );
}
