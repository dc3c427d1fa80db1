//! Every table's columns, defined once: name, type, unit, nullability and meaning.
//!
//! The Parquet writer, the `query` command's table list and the `schema` data dictionary
//! all read these definitions, so a column cannot exist in one place and not the others.
//! Spec: README "The lake", events.md §3.

use polars::prelude::{DataType, Field, Schema, TimeUnit};

/// Written into every Parquet file's key-value metadata as `msgmeter.schema_version`.
/// Bump it when a column changes meaning or type.
pub const SCHEMA_VERSION: &str = "1";
pub const SCHEMA_VERSION_KEY: &str = "msgmeter.schema_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Bool,
    Int8,
    Int64,
    UInt64,
    Float64,
    /// UTC instant, microseconds.
    Timestamp,
    Date,
    /// Exact decimal (Parquet DECIMAL(precision, scale)): money and rates.
    Decimal(usize, usize),
}

impl ColumnType {
    pub fn polars(self) -> DataType {
        match self {
            ColumnType::Text => DataType::String,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int8 => DataType::Int8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Timestamp => {
                DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC))
            }
            ColumnType::Date => DataType::Date,
            ColumnType::Decimal(p, s) => DataType::Decimal(p, s),
        }
    }

    pub fn label(self) -> &'static str {
        if let ColumnType::Decimal(p, s) = self {
            return match (p, s) {
                (18, 8) => "decimal(18,8)",
                (24, 10) => "decimal(24,10)",
                (20, 4) => "decimal(20,4)",
                (9, 4) => "decimal(9,4)",
                _ => "decimal",
            };
        }
        match self {
            ColumnType::Text => "string",
            ColumnType::Bool => "bool",
            ColumnType::Int8 => "int8",
            ColumnType::Int64 => "int64",
            ColumnType::UInt64 => "uint64",
            ColumnType::Float64 => "float64",
            ColumnType::Timestamp => "timestamp[us, UTC]",
            ColumnType::Date => "date",
            ColumnType::Decimal(..) => unreachable!("labelled above"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub unit: &'static str,
    pub nullable: bool,
    pub meaning: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// Hive partition column (a folder `name=value`), if any. Not stored inside the files.
    pub partition: Option<&'static str>,
    pub one_row_per: &'static str,
    pub columns: &'static [Column],
}

impl Table {
    /// The columns stored in the Parquet files, in file order.
    pub fn polars_schema(&self) -> Schema {
        self.columns
            .iter()
            .map(|c| Field::new(c.name.into(), c.kind.polars()))
            .collect()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn col(
    name: &'static str,
    kind: ColumnType,
    unit: &'static str,
    nullable: bool,
    meaning: &'static str,
) -> Column {
    Column {
        name,
        kind,
        unit,
        nullable,
        meaning,
    }
}

use ColumnType::*;

pub const EVENTS: Table = Table {
    name: "events",
    partition: Some("date"),
    one_row_per: "accepted input event, after dedupe (partition: UTC date of ts)",
    columns: &[
        col("event_key", Text, "", false, "dedupe key, scoped per business: `business|in|message id`, `business|status|message id|status`, `business|out|message id` (business-app echo) or `business|event id` (event log)"),
        col("event_type", Text, "", false, "message_in, message_out, status, case_opened, case_status or case_rating"),
        col("ts", Timestamp, "UTC", false, "when the event happened, as the sender stamped it"),
        col("business_id", Text, "", false, "the business (WhatsApp Business Account id for webhooks)"),
        col("phone_number_id", Text, "", true, "the business phone number the webhook came through (webhooks only)"),
        col("customer_key", Text, "", true, "keyed pseudonym of the customer (HMAC-SHA-256, 128 bits, hex); a business-scoped user id seen with a number maps to the number's key"),
        col("customer_id_kind", Text, "", true, "what the customer was known by: phone, user_id (business-scoped id never seen with a number) or opaque (event-log id that is not a number)"),
        col("customer_cc", Text, "", true, "country calling code of the customer's number, e.g. 52"),
        col("customer_country", Text, "ISO 3166-1 alpha-2", true, "country of the customer's number"),
        col("market", Text, "", true, "pricing market of the customer's number (data/markets.csv); Unknown when there is no number"),
        col("message_id", Text, "", true, "message id (wamid… for webhooks)"),
        col("message_type", Text, "", true, "text, image, template, interactive, reaction, …"),
        col("template_category", Text, "", true, "category of an outbound template (marketing, utility, authentication, authentication_international, …; unknown values kept)"),
        col("sender", Text, "", true, "for message_out: agent (a person), bot (automated reply) or system (nobody typed it)"),
        col("agent_id", Text, "", true, "the agent who sent the message or changed the case"),
        col("referral", Bool, "", true, "inbound message came from an ad or page button (free entry point)"),
        col("status", Text, "", true, "delivery status: sent, delivered, read, played or failed"),
        col("reported_pricing_model", Text, "", true, "pricing model the platform reported on the status: CBP or PMP"),
        col("reported_billable", Bool, "", true, "billable flag the platform reported (missing: type == regular)"),
        col("reported_category", Text, "", true, "pricing category the platform reported (hyphens normalised to underscores)"),
        col("reported_pricing_type", Text, "", true, "PMP pricing type reported: regular, free_customer_service, free_entry_point"),
        col("conversation_id", Text, "", true, "conversation the platform reported (CBP era) or the event log named"),
        col("conversation_origin", Text, "", true, "origin type of that conversation"),
        col("conversation_expires", Timestamp, "UTC", true, "expiration the platform reported for that conversation"),
        col("error_code", Text, "", true, "error code of a failed status"),
        col("case_id", Text, "", true, "support case id (event log only)"),
        col("case_kind", Text, "", true, "complaint or request"),
        col("case_category", Text, "", true, "the case's topic, e.g. fraud, flight delay, billing, delivery"),
        col("case_status", Text, "", true, "open, pending, on_hold, resolved, reopened or closed"),
        col("rating", Int8, "1–5", true, "customer satisfaction rating of a case"),
        col("content_hash", UInt64, "", false, "hash of the normalised content (source columns aside); decides which duplicate is kept"),
        col("source_file", Text, "", false, "name of the raw file the kept version came from"),
        col("source_sha256", Text, "", false, "SHA-256 of that raw file (as stored, compressed or not)"),
        col("source_line", Int64, "", false, "line (CSV: row's first line) of that raw file, from 1"),
    ],
};

pub const IDENTITIES: Table = Table {
    name: "identities",
    partition: None,
    one_row_per: "business-scoped user id seen together with a phone number",
    columns: &[
        col(
            "business_id",
            Text,
            "",
            false,
            "the business the user id is scoped to",
        ),
        col(
            "user_key",
            Text,
            "",
            false,
            "keyed pseudonym of the business-scoped user id",
        ),
        col(
            "customer_key",
            Text,
            "",
            false,
            "keyed pseudonym of the phone number it belongs to",
        ),
        col(
            "customer_cc",
            Text,
            "",
            true,
            "country calling code of that number",
        ),
        col(
            "customer_country",
            Text,
            "ISO 3166-1 alpha-2",
            true,
            "country of that number",
        ),
        col("market", Text, "", true, "pricing market of that number"),
        col(
            "first_seen",
            Timestamp,
            "UTC",
            false,
            "earliest event that carried the pair",
        ),
    ],
};

pub const MESSAGES: Table = Table {
    name: "messages",
    partition: Some("date"),
    one_row_per: "outbound message of the business (partition: UTC date of its first send), with its delivery and pricing decision under the derived source",
    columns: &[
        col("business_id", Text, "", false, "the business that sent it"),
        col("message_id", Text, "", false, "message id (wamid… for webhooks)"),
        col("customer_key", Text, "", true, "keyed pseudonym of the recipient"),
        col("market", Text, "", true, "pricing market of the recipient's number on the day of the charge"),
        col("customer_country", Text, "ISO 3166-1 alpha-2", true, "country of the recipient's number"),
        col("category", Text, "", true, "pricing category: the template's category (authentication_international where billing.md §4 says so), service for a non-template message; null when unknown (webhook-only message without a pricing object)"),
        col("is_template", Bool, "", true, "a template message (null when only statuses are known and they carry no category)"),
        col("sender", Text, "", true, "agent, bot or system (null when only statuses are known)"),
        col("known_from", Text, "", false, "message_out (the event log or a business-app echo) or statuses (webhook-only: the message is known through its statuses)"),
        col("sent_at", Timestamp, "UTC", false, "first send: the message_out event, else the earliest status"),
        col("delivered_at", Timestamp, "UTC", true, "earliest delivered, read or played status (a read message was delivered); null if never delivered"),
        col("read_at", Timestamp, "UTC", true, "earliest read or played status"),
        col("failed_at", Timestamp, "UTC", true, "earliest failed status"),
        col("billing_date", Date, "account time zone", true, "local date of the delivery: the date its charge belongs to"),
        col("pricing_model", Text, "", true, "CBP or PMP in force at the delivery"),
        col("pricing_type", Text, "", true, "PMP: regular, free_customer_service or free_entry_point; CBP: the pricing type of its conversation; null when not delivered or not metered"),
        col("billable", Bool, "", true, "PMP: the message is charged; CBP: its conversation is charged"),
        col("conversation_id", Text, "", true, "CBP: the derived conversation the message belongs to"),
    ],
};

pub const CONVERSATIONS: Table = Table {
    name: "conversations",
    partition: Some("date"),
    one_row_per: "conversation-based-pricing conversation derived from the events (partition: UTC date of opening)",
    columns: &[
        col("business_id", Text, "", false, "the business"),
        col("conversation_id", Text, "", false, "derived id: `cbp-` and 16 hex digits of a hash of business, customer, category and opening time"),
        col("customer_key", Text, "", true, "keyed pseudonym of the customer"),
        col("market", Text, "", true, "market of the customer's number when the conversation opened"),
        col("category", Text, "", false, "business_initiated / user_initiated (2022–23), marketing, utility, authentication, authentication_international, service, or referral_conversion (free entry point)"),
        col("opened_at", Timestamp, "UTC", false, "delivery of its first message"),
        col("expires_at", Timestamp, "UTC", false, "opened_at + 24 h (72 h for a free entry point); the window is half-open"),
        col("billing_date", Date, "account time zone", false, "local date of opening: the date of its charge"),
        col("billing_month", Text, "YYYY-MM", false, "local month of opening"),
        col("pricing_type", Text, "", false, "regular, free_customer_service, free_entry_point or free_tier (the month's allowance)"),
        col("billable", Bool, "", false, "charged (pricing_type regular)"),
    ],
};

pub const USAGE_DAILY: Table = Table {
    name: "usage_daily",
    partition: Some("date"),
    one_row_per: "business × billing date × market × category × model × pricing type × source × billable (partition: UTC date of the charge)",
    columns: &[
        col("billing_date", Date, "account time zone", false, "local date of the charge"),
        col("billing_month", Text, "YYYY-MM", false, "local month of the charge: invoices sum by it"),
        col("business_id", Text, "", false, "the business"),
        col("market", Text, "", false, "market of the customer (Unknown: priced at the Other rate)"),
        col("category", Text, "", false, "pricing category (unknown values kept as they are)"),
        col("pricing_model", Text, "", false, "CBP (units are conversations) or PMP (units are delivered messages)"),
        col("pricing_type", Text, "", false, "regular, free_customer_service, free_entry_point or free_tier"),
        col("source", Text, "", false, "derived (our rules over our events) or reported (Meta's pricing objects)"),
        col("billable", Bool, "", false, "units are charged"),
        col("units", Int64, "conversations or messages", false, "quantity: volume tiers are applied at invoice time to the month's sum"),
    ],
};

pub const RECONCILIATION: Table = Table {
    name: "reconciliation",
    partition: Some("date"),
    one_row_per: "business × billing date × market × category where the derived and reported billable units differ (businesses and months with both sources)",
    columns: &[
        col("billing_date", Date, "account time zone", false, "local date of the charges"),
        col("billing_month", Text, "YYYY-MM", false, "local month"),
        col("business_id", Text, "", false, "the business"),
        col("market", Text, "", false, "market"),
        col("category", Text, "", false, "pricing category"),
        col("derived_units", Int64, "", false, "billable units by our rules"),
        col("reported_units", Int64, "", false, "billable units in Meta's pricing objects"),
        col("difference", Int64, "", false, "derived − reported"),
    ],
};

pub const BILLING_SOURCES: Table = Table {
    name: "billing_sources",
    partition: Some("month"),
    one_row_per: "business × billing month: which metering source is billed (billing.md §5)",
    columns: &[
        col("business_id", Text, "", false, "the business"),
        col("billing_month", Text, "YYYY-MM", false, "local billing month"),
        col("source", Text, "", false, "derived or reported: the source invoices, business_daily and the complaint rate use"),
        col("choice", Text, "", false, "how it was chosen: auto, derived or reported (--source / metering.source)"),
        col("pricing_objects_seen", Bool, "", false, "some status of the business in the month carries a pricing object (auto bills reported then)"),
    ],
};

pub const REPLY_WAITS: Table = Table {
    name: "reply_waits",
    partition: Some("date"),
    one_row_per: "customer waiting for the business (metrics.md), partitioned by the UTC date the wait started; its reply is looked up in everything the lake holds",
    columns: &[
        col("business_id", Text, "", false, "the business"),
        col("customer_key", Text, "", false, "keyed pseudonym of the customer"),
        col("started_at", Timestamp, "UTC", false, "the customer message that began the wait (nothing was owed before it)"),
        col("replied_at", Timestamp, "UTC", true, "the business's next non-template message (agent or bot); null while unanswered"),
        col("wait_seconds", Int64, "s", true, "replied_at − started_at; null while unanswered (an open clock, never zero)"),
        col("wait_business_seconds", Int64, "s", true, "the same span counted in the account's business hours; null without a schedule or while unanswered"),
        col("replied_by", Text, "", true, "agent or bot (webhook-only input: agent)"),
        col("human_replied_at", Timestamp, "UTC", true, "first reply by a person (first human response skips bots)"),
        col("human_wait_seconds", Int64, "s", true, "human_replied_at − started_at"),
        col("inbound_messages", Int64, "", false, "customer messages in the wait (reactions excluded)"),
        col("is_first", Bool, "", false, "begins a thread: no message either way in the 24 h before (half-open)"),
    ],
};

pub const CASES: Table = Table {
    name: "cases",
    partition: Some("date"),
    one_row_per: "request or complaint case (partition: UTC date of opening), with its clocks (metrics.md); statuses and ratings looked up in everything the lake holds",
    columns: &[
        col("business_id", Text, "", false, "the business"),
        col("case_id", Text, "", false, "the case"),
        col("customer_key", Text, "", true, "keyed pseudonym of the customer"),
        col("case_kind", Text, "", true, "complaint or request"),
        col("case_category", Text, "", true, "topic, e.g. fraud, flight delay, billing, delivery"),
        col("opened_at", Timestamp, "UTC", false, "case_opened"),
        col("first_response_at", Timestamp, "UTC", true, "first agent non-template message to the customer after opening, before the case is first done"),
        col("first_resolved_at", Timestamp, "UTC", true, "first entry into resolved or closed"),
        col("last_resolved_at", Timestamp, "UTC", true, "last entry into a done state from a non-done one; null while the latest status is not done"),
        col("reopen_count", Int64, "", false, "entries into reopened"),
        col("agent_replies", Int64, "", false, "agent non-template messages to the customer from opening to full resolution"),
        col("first_response_seconds", Int64, "s", true, "first_response_at − opened_at"),
        col("first_response_business_seconds", Int64, "s", true, "the same in business hours (null without a schedule)"),
        col("first_resolution_seconds", Int64, "s", true, "first_resolved_at − opened_at"),
        col("full_resolution_seconds", Int64, "s", true, "last_resolved_at − opened_at"),
        col("full_resolution_business_seconds", Int64, "s", true, "the same in business hours (null without a schedule)"),
        col("customer_wait_seconds", Int64, "s", true, "time in open, reopened or on_hold up to full resolution; null while not done"),
        col("rating", Int8, "1–5", true, "the latest rating"),
    ],
};

pub const BUSINESS_DAILY: Table = Table {
    name: "business_daily",
    partition: Some("date"),
    one_row_per: "business × UTC day: the headline numbers of every table (no money)",
    columns: &[
        col("business_id", Text, "", false, "the business"),
        col("messages_in", Int64, "", false, "customer messages (message_in)"),
        col("messages_out_agent", Int64, "", false, "outbound messages sent by a person"),
        col("messages_out_bot", Int64, "", false, "outbound messages sent by a bot"),
        col("messages_out_system", Int64, "", false, "outbound notifications nobody typed (templates from back-office systems)"),
        col("delivered", Int64, "", false, "outbound messages of the day (by send) that were delivered"),
        col("failed", Int64, "", false, "outbound messages of the day that failed and were never delivered"),
        col("read_rate", Float64, "fraction", true, "read ÷ delivered"),
        col("conversations_opened", Int64, "", false, "derived CBP conversations opened"),
        col("conversations_marketing", Int64, "", false, "of which marketing"),
        col("conversations_utility", Int64, "", false, "of which utility"),
        col("conversations_authentication", Int64, "", false, "of which authentication and authentication_international"),
        col("conversations_service", Int64, "", false, "of which service"),
        col("conversations_other", Int64, "", false, "of which any other category (referral_conversion, the 2022–23 kinds)"),
        col("billed_source", Text, "", true, "the metering source billed this month (billing_sources)"),
        col("billable_units", Int64, "conversations or messages", false, "billable units of the billed source"),
        col("billable_marketing", Int64, "", false, "of which marketing"),
        col("billable_utility", Int64, "", false, "of which utility"),
        col("billable_authentication", Int64, "", false, "of which authentication and authentication_international"),
        col("billable_service", Int64, "", false, "of which service"),
        col("billable_other", Int64, "", false, "of which any other category (2022–23 kinds, unknown values)"),
        col("waits", Int64, "", false, "reply waits started"),
        col("waits_answered", Int64, "", false, "of which answered (by now)"),
        col("waits_unanswered", Int64, "", false, "of which still open"),
        col("wait_p50_seconds", Int64, "s", true, "nearest-rank median of answered waits"),
        col("wait_p90_seconds", Int64, "s", true, "nearest-rank 90th percentile"),
        col("wait_p99_seconds", Int64, "s", true, "nearest-rank 99th percentile"),
        col("wait_mean_seconds", Float64, "s", true, "mean of answered waits"),
        col("wait_max_seconds", Int64, "s", true, "longest answered wait"),
        col("first_waits", Int64, "", false, "waits that begin a thread"),
        col("first_response_p50_seconds", Int64, "s", true, "nearest-rank median of answered first waits"),
        col("first_human_response_p50_seconds", Int64, "s", true, "the same for the first reply by a person"),
        col("sla_met", Int64, "", false, "first waits answered within the account's sla_first_response_minutes (business hours where it has a schedule)"),
        col("sla_over", Int64, "", false, "first waits whose clock is over: answered, or unanswered past the target at the day's end"),
        col("sla_attainment", Float64, "fraction", true, "sla_met ÷ sla_over"),
        col("cases_opened", Int64, "", false, "cases opened"),
        col("cases_resolved", Int64, "", false, "of which done at the day's end"),
        col("cases_reopened", Int64, "", false, "of the cases opened, those reopened at least once"),
        col("cases_one_touch", Int64, "", false, "of the cases opened, those done at the day's end with at most one agent reply"),
        col("cases_timely_response", Int64, "", false, "of the cases opened, those whose first response came within 24 h"),
        col("case_backlog", Int64, "", false, "cases opened on or before the day that are not done at its end"),
        col("csat_satisfied", Int64, "", false, "cases opened that day whose latest rating is 4 or 5"),
        col("csat_ratings", Int64, "", false, "cases opened that day that have a rating (CSAT = satisfied ÷ ratings)"),
        col("complaints_opened", Int64, "", false, "complaint cases opened"),
        col("complaint_rate_per_1000", Float64, "per 1,000 billable units", true, "complaints opened per 1,000 billable units of the billed source; null without billable units"),
        col("orphan_case_events", Int64, "", false, "case events of the day for a case id never opened (kept in events, left out of cases)"),
    ],
};

/// Money columns (spec README, "The lake"): rates DECIMAL(18, 8), unit prices (24, 10),
/// amounts (20, 4) already rounded to the currency's minor unit; percentages (9, 4).
const RATE: ColumnType = Decimal(18, 8);
const UNIT_PRICE: ColumnType = Decimal(24, 10);
const AMOUNT: ColumnType = Decimal(20, 4);
const PERCENT: ColumnType = Decimal(9, 4);

pub const INVOICES: Table = Table {
    name: "invoices",
    partition: Some("month"),
    one_row_per: "invoice, credit note or adjustment note of a billing month: the invoice register (billing.md §8)",
    columns: &[
        col("invoice_number", Text, "", true, "PREFIX-YYYY-NNNNNN (ADJ notes: PREFIX-ADJ-YYYY-NNNNNN), gapless per year; null while draft"),
        col("business_id", Text, "", false, "the business invoiced"),
        col("status", Text, "", false, "draft (recomputed by every run) or final (never changes)"),
        col("document", Text, "", false, "invoice, credit_note (negative total), adjustment_note or adjustment_credit_note (standalone ADJ notes for closed accounts)"),
        col("customer_name", Text, "", false, "the account's name (the business id when it has no account)"),
        col("account_registered", Bool, "", false, "false: the business is missing from accounts.csv and was invoiced with the defaults of billing.md §7"),
        col("source", Text, "", false, "the metering source billed: derived or reported"),
        col("currency", Text, "ISO 4217", false, "currency of every amount of the invoice"),
        col("subtotal", AMOUNT, "currency", false, "sum of the line amounts"),
        col("tax_pct", PERCENT, "percent", false, "the account's tax rate"),
        col("markup_pct", PERCENT, "percent", false, "the account's markup on the card's rates when the invoice was computed (a recompute of a final month uses it again)"),
        col("tax", AMOUNT, "currency", false, "subtotal × tax_pct / 100, rounded once to the minor unit, half away from zero"),
        col("total", AMOUNT, "currency", false, "subtotal + tax"),
        col("issue_date", Date, "", false, "finalization date (a draft: the date it was computed as of)"),
        col("due_date", Date, "", false, "issue date + the account's payment terms"),
        col("period_start", Date, "account's time zone", false, "first day of the billing month"),
        col("period_end", Date, "account's time zone", false, "last day of the billing month (inclusive)"),
        col("lines", Int64, "", false, "number of lines in invoice_lines"),
        col("msgmeter_version", Text, "", false, "version of msgmeter that computed the invoice"),
        col("rounding_rule", Text, "", false, "how amounts were rounded"),
    ],
};

pub const INVOICE_LINES: Table = Table {
    name: "invoice_lines",
    partition: Some("month"),
    one_row_per: "line of an invoice: market × category × pricing type × tier × unit price of usage, the monthly fee, or an adjustment",
    columns: &[
        col("invoice_number", Text, "", true, "the invoice's number; null while draft"),
        col("business_id", Text, "", false, "the business invoiced"),
        col("line_no", Int64, "", false, "1, 2, … within the invoice"),
        col("kind", Text, "", false, "usage, fee or adjustment"),
        col("pricing_model", Text, "", true, "CBP or PMP (usage and adjustment lines)"),
        col("market", Text, "", true, "pricing market (usage and adjustment lines)"),
        col("category", Text, "", true, "conversation or message category (usage and adjustment lines)"),
        col("pricing_type", Text, "", true, "regular (charged) or a free type: free lines are zero-priced"),
        col("tier_from", Int64, "units", true, "first unit of the volume tier of a charged line; null for free units and the fee"),
        col("quantity", Int64, "conversations or messages", false, "units (the fee: 1; an adjustment: the difference, may be negative)"),
        col("rate", RATE, "currency per unit", true, "the rate card's rate before markup; null for free units and the fee"),
        col("unit_price", UNIT_PRICE, "currency per unit", false, "rate × (1 + markup_pct / 100), shown rounded to 10 places (the amount uses the full price)"),
        col("amount", AMOUNT, "currency", false, "quantity × unit price, rounded once to the minor unit (an adjustment: recomputed amount − invoiced amount)"),
        col("currency", Text, "ISO 4217", false, "the invoice's currency"),
        col("corrects_month", Text, "YYYY-MM", true, "for an adjustment: the finalized month it corrects"),
    ],
};

/// The tables `query` and `schema` know, in dictionary order.
pub const TABLES: &[&Table] = &[
    &EVENTS,
    &IDENTITIES,
    &MESSAGES,
    &CONVERSATIONS,
    &USAGE_DAILY,
    &RECONCILIATION,
    &BILLING_SOURCES,
    &REPLY_WAITS,
    &CASES,
    &BUSINESS_DAILY,
    &INVOICES,
    &INVOICE_LINES,
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// The data dictionary as Markdown: one section per table.
pub fn dictionary(tables: &[&Table]) -> String {
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!("## {}\n\nOne row per {}.", t.name, t.one_row_per));
        if let Some(p) = t.partition {
            out.push_str(&format!(
                " Partitioned by `{p}={}` folders.",
                partition_format(p)
            ));
        }
        out.push_str("\n\n| column | type | unit | nullable | meaning |\n|---|---|---|---|---|\n");
        if let Some(p) = t.partition {
            let (kind, unit) = match p {
                "month" => ("string", "YYYY-MM, billing month"),
                _ => ("date", "UTC day"),
            };
            out.push_str(&format!(
                "| {p} | {kind} | {unit} | no | partition folder |\n"
            ));
        }
        for c in t.columns {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                c.name,
                c.kind.label(),
                c.unit,
                if c.nullable { "yes" } else { "no" },
                c.meaning
            ));
        }
        out.push('\n');
    }
    out
}

fn partition_format(partition: &str) -> &'static str {
    match partition {
        "month" => "YYYY-MM",
        _ => "YYYY-MM-DD",
    }
}
