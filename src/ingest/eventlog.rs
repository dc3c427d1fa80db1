//! The platform's own event log (events.md §2): flat records as NDJSON or CSV with the same
//! field names. Both become an [`EventLogRecord`] of optional [`Scalar`]s, so JSON and CSV
//! share every validation rule below.

use std::borrow::Cow;

use serde::Deserialize;

use super::normalize::{
    business_id, identifier, normalise_category, one_of, parse_timestamp, Checked, Event,
    Normalizer, Reason, Rejection, CASE_KINDS, CASE_STATUSES, EVENT_TYPES, PRICING_MODELS, SENDERS,
    STATUSES,
};
use super::scalar::{Field, Scalar};

/// The field names of the event log; also the CSV header `generate` writes.
pub const FIELDS: [&str; 25] = [
    "event_id",
    "ts",
    "type",
    "business_id",
    "customer",
    "message_id",
    "message_type",
    "template_category",
    "sender",
    "agent_id",
    "referral",
    "status",
    "pricing_model",
    "billable",
    "pricing_category",
    "pricing_type",
    "conversation_id",
    "conversation_origin",
    "conversation_expires",
    "error_code",
    "case_id",
    "case_kind",
    "case_category",
    "case_status",
    "rating",
];

#[derive(Debug, Default, Deserialize)]
pub struct EventLogRecord<'a> {
    #[serde(borrow, default)]
    pub event_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub ts: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "type")]
    pub event_type: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub business_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub customer: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub message_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub message_type: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub template_category: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub sender: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub agent_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub referral: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub status: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub pricing_model: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub billable: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub pricing_category: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub pricing_type: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub conversation_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub conversation_origin: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub conversation_expires: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub error_code: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub case_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub case_kind: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub case_category: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub case_status: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub rating: Option<Scalar<'a>>,
}

impl<'a> EventLogRecord<'a> {
    /// A CSV row, with `columns[i]` naming cell `i`; empty cells are absent fields.
    pub fn from_csv(columns: &[Option<usize>], row: &'a csv::StringRecord) -> Self {
        let mut r = EventLogRecord::default();
        for (cell, field) in row.iter().zip(columns) {
            let Some(field) = field else { continue };
            if cell.is_empty() {
                continue;
            }
            let v = Some(Scalar::Text(Cow::Borrowed(cell)));
            match *field {
                0 => r.event_id = v,
                1 => r.ts = v,
                2 => r.event_type = v,
                3 => r.business_id = v,
                4 => r.customer = v,
                5 => r.message_id = v,
                6 => r.message_type = v,
                7 => r.template_category = v,
                8 => r.sender = v,
                9 => r.agent_id = v,
                10 => r.referral = v,
                11 => r.status = v,
                12 => r.pricing_model = v,
                13 => r.billable = v,
                14 => r.pricing_category = v,
                15 => r.pricing_type = v,
                16 => r.conversation_id = v,
                17 => r.conversation_origin = v,
                18 => r.conversation_expires = v,
                19 => r.error_code = v,
                20 => r.case_id = v,
                21 => r.case_kind = v,
                22 => r.case_category = v,
                23 => r.case_status = v,
                _ => r.rating = v,
            }
        }
        r
    }
}

/// Columns a CSV header must have: without one of them no row could be accepted, so the
/// file fails as a whole (naming them) instead of quarantining every row.
pub const REQUIRED_CSV_COLUMNS: [&str; 4] = ["event_id", "ts", "type", "business_id"];

/// Map a CSV header to field positions (unknown columns are ignored).
pub fn csv_columns(header: &csv::StringRecord) -> Vec<Option<usize>> {
    header
        .iter()
        .map(|h| FIELDS.iter().position(|f| *f == h.trim()))
        .collect()
}

/// Validate and normalise one event-log record.
pub fn normalise(r: &EventLogRecord<'_>, n: &Normalizer<'_>) -> Checked<Event> {
    use Reason::{BadEnum, BadIdentifier};
    let event_type = one_of(
        r.event_type.required_text("type", BadEnum)?,
        &EVENT_TYPES,
        "type",
    )?;
    let event_id = identifier(
        r.event_id.required_text("event_id", BadIdentifier)?,
        "event_id",
    )?;
    let ts = parse_timestamp(r.ts.required_text("ts", Reason::BadTimestamp)?, "ts")?;
    let ts = n.check_time(ts, "ts")?;
    // An empty id is a bad id (metrics.md), not a missing field.
    let business_id = business_id(
        match &r.business_id {
            Some(Scalar::Text(s)) if s.trim().is_empty() => "",
            other => other.required_text("business_id", BadIdentifier)?,
        },
        "business_id",
    )?;
    let opt_id = |v: &Option<Scalar<'_>>, field: &str| -> Checked<Option<String>> {
        v.text(field, BadIdentifier)?
            .map(|s| identifier(s, field))
            .transpose()
    };
    let req_id = |v: &Option<Scalar<'_>>, field: &str| -> Checked<String> {
        identifier(v.required_text(field, BadIdentifier)?, field)
    };
    let opt_text = |v: &Option<Scalar<'_>>, field: &str| -> Checked<Option<String>> {
        Ok(v.text(field, BadEnum)?.map(|s| s.trim().to_string()))
    };

    let mut e = Event {
        event_key: [business_id.as_str(), event_id.as_ref()].join("|"),
        event_type,
        ts,
        business_id,
        agent_id: opt_id(&r.agent_id, "agent_id")?,
        conversation_id: opt_id(&r.conversation_id, "conversation_id")?,
        ..Event::default()
    };
    let customer_required = matches!(event_type, "message_in" | "message_out" | "case_opened");
    match r.customer.text("customer", BadIdentifier)? {
        Some(c) => e.customer = Some(n.customer(c, ts)?),
        None if customer_required => return Err(Rejection::missing("customer")),
        None => {}
    }
    match event_type {
        "message_in" => {
            e.message_id = Some(req_id(&r.message_id, "message_id")?);
            e.message_type = opt_text(&r.message_type, "message_type")?;
            e.referral = Some(r.referral.flag("referral")?.unwrap_or(false));
        }
        "message_out" => {
            e.message_id = Some(req_id(&r.message_id, "message_id")?);
            let message_type = r
                .message_type
                .required_text("message_type", BadEnum)?
                .trim()
                .to_ascii_lowercase();
            let is_template = message_type == "template";
            e.template_category = r
                .template_category
                .text("template_category", BadEnum)?
                .map(normalise_category);
            if is_template && e.template_category.is_none() {
                return Err(Rejection::new(
                    Reason::MissingField,
                    "`template_category` is required when `message_type` is template",
                ));
            }
            e.sender = Some(match r.sender.text("sender", BadEnum)? {
                Some(s) => one_of(s.trim(), &SENDERS, "sender")?,
                None if is_template => "system",
                None => "agent",
            });
            e.message_type = Some(message_type);
        }
        "status" => {
            e.message_id = Some(req_id(&r.message_id, "message_id")?);
            e.status = Some(one_of(
                r.status.required_text("status", BadEnum)?.trim(),
                &STATUSES,
                "status",
            )?);
            e.reported_pricing_model = r
                .pricing_model
                .text("pricing_model", BadEnum)?
                .map(|m| one_of(m.trim(), &PRICING_MODELS, "pricing_model"))
                .transpose()?;
            e.reported_pricing_type = r
                .pricing_type
                .text("pricing_type", BadEnum)?
                .map(normalise_category);
            e.reported_billable = match r.billable.flag("billable")? {
                Some(b) => Some(b),
                None => e.reported_pricing_type.as_deref().map(|t| t == "regular"),
            };
            e.reported_category = r
                .pricing_category
                .text("pricing_category", BadEnum)?
                .map(normalise_category);
            e.conversation_origin = opt_text(&r.conversation_origin, "conversation_origin")?;
            e.conversation_expires = r
                .conversation_expires
                .text("conversation_expires", Reason::BadTimestamp)?
                .map(|t| parse_timestamp(t, "conversation_expires"))
                .transpose()?;
            e.error_code = opt_text(&r.error_code, "error_code")?;
        }
        "case_opened" => {
            e.case_id = Some(req_id(&r.case_id, "case_id")?);
            e.case_kind = Some(one_of(
                r.case_kind.required_text("case_kind", BadEnum)?.trim(),
                &CASE_KINDS,
                "case_kind",
            )?);
            e.case_category = Some(
                r.case_category
                    .required_text("case_category", BadEnum)?
                    .trim()
                    .to_string(),
            );
        }
        "case_status" => {
            e.case_id = Some(req_id(&r.case_id, "case_id")?);
            e.case_status = Some(one_of(
                r.case_status.required_text("case_status", BadEnum)?.trim(),
                &CASE_STATUSES,
                "case_status",
            )?);
        }
        _ => {
            // case_rating
            e.case_id = Some(req_id(&r.case_id, "case_id")?);
            let raw = r.rating.required_text("rating", Reason::OutOfRange)?.trim();
            let rating: f64 = raw.parse().map_err(|_| {
                Rejection::new(
                    Reason::OutOfRange,
                    format!("`rating` {raw:?} is not a number 1–5"),
                )
            })?;
            if rating.fract() != 0.0 || !(1.0..=5.0).contains(&rating) {
                return Err(Rejection::new(
                    Reason::OutOfRange,
                    format!("`rating` {raw} is outside 1–5"),
                ));
            }
            e.rating = Some(rating as i8);
        }
    }
    e.compute_content_hash();
    Ok(e)
}
