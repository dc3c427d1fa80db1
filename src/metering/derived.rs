//! The `derived` metering source (billing.md §5): our rules over our own events, one
//! customer timeline at a time. Each delivered message in the span is priced by the period
//! in force at its delivery, in the account's time zone; under CBP it is placed in a
//! conversation ([`super::cbp`]), under PMP it gets a pricing type ([`super::pmp`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::accounts::Account;
use crate::pricing::markets::UNKNOWN_MARKET;
use crate::pricing::rates::RateCard;
use crate::pricing::rules::{Period, PricingModel, PricingRules};

use super::cbp;
use super::pmp;
use super::timeline::{
    window_covering, Conversation, MessagePricing, Outbound, Timeline, FREE_ENTRY_POINT,
    REFERRAL_CONVERSION, REGULAR, SERVICE,
};

/// What pricing needs to know about the business.
pub struct PricingContext<'a> {
    pub rules: &'a PricingRules,
    pub rates: &'a RateCard,
    pub account: &'a Account,
}

impl PricingContext<'_> {
    /// The local (billing time zone) date of an instant.
    pub fn local_date(&self, t: i64) -> NaiveDate {
        local_date(self.account, t)
    }

    pub fn period_at(&self, t: i64) -> Option<&Period> {
        self.rules.period_on(self.local_date(t))
    }

    /// authentication → authentication_international for an eligible account messaging a
    /// customer of another country, where the card prices it (billing.md §4).
    fn resolve_category(
        &self,
        category: &str,
        model: PricingModel,
        market: &str,
        country: Option<&str>,
        t: i64,
    ) -> String {
        let a = self.account;
        if category == "authentication"
            && a.auth_intl_eligible
            && country.is_some_and(|c| !c.is_empty() && c != a.country)
            && self.rates.has_rate(
                &a.currency,
                model,
                market,
                "authentication_international",
                self.local_date(t),
            )
        {
            "authentication_international".to_string()
        } else {
            category.to_string()
        }
    }
}

pub fn local_date(account: &Account, t: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(t)
        .unwrap_or_default()
        .with_timezone(&account.timezone)
        .date_naive()
}

/// The derived decisions for one timeline over a span of deliveries.
#[derive(Debug, Default)]
pub struct TimelinePricing {
    pub messages: Vec<MessagePricing>,
    /// Conversations opened in the span (regular and entry-point ones).
    pub conversations: Vec<Conversation>,
}

/// What kind of message this is for pricing: (is_template, category), or `None` when the
/// derived source cannot meter it (billing.md §5: a webhook-only message under CBP, or one
/// whose statuses carry no category).
fn kind_of(m: &Outbound, model: PricingModel) -> Option<(bool, String)> {
    if m.has_message_out {
        let is_template = m.is_template?;
        if is_template {
            Some((true, m.category.clone()?))
        } else {
            Some((false, SERVICE.to_string()))
        }
    } else {
        if model == PricingModel::Conversation {
            return None;
        }
        match m.category.as_deref()? {
            SERVICE => Some((false, SERVICE.to_string())),
            c => Some((true, c.to_string())),
        }
    }
}

/// Price every delivery of `timeline` in `[span.0, span.1)`. `open_at_start` are the pair's
/// regular conversations still open at the span's start (from the day before).
pub fn price_timeline(
    timeline: &Timeline,
    ctx: &PricingContext<'_>,
    open_at_start: &[Conversation],
    span: (i64, i64),
) -> TimelinePricing {
    let deliveries = timeline.deliveries();
    let windows = timeline.entry_point_windows(&deliveries, |d| {
        ctx.period_at(d).map_or(72, |p| p.free_entry_point_hours)
    });
    let mut open: Vec<Conversation> = open_at_start.to_vec();
    let already_open = open.len();
    let mut entry_point: BTreeMap<i64, Conversation> = BTreeMap::new();
    let mut out = TimelinePricing::default();
    let conversation_id = |category: &str, opened_at: i64| {
        let key = format!(
            "{}|{}|{category}|{opened_at}",
            timeline.business_id,
            timeline.customer_key.as_deref().unwrap_or("")
        );
        format!("cbp-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
    };
    let new_conversation = |m: &Outbound, category: &str, opened_at: i64| Conversation {
        business_id: timeline.business_id.clone(),
        conversation_id: conversation_id(category, opened_at),
        customer_key: timeline.customer_key.clone(),
        market: Some(
            m.market
                .clone()
                .unwrap_or_else(|| UNKNOWN_MARKET.to_string()),
        ),
        category: category.to_string(),
        opened_at,
        expires_at: opened_at,
        pricing_type: REGULAR,
    };

    for m in deliveries {
        let d = m.delivered_at.expect("deliveries are delivered");
        if d < span.0 || d >= span.1 {
            continue;
        }
        let mut priced = MessagePricing {
            message_id: m.message_id.clone(),
            delivered_at: d,
            category: m.category.clone(),
            is_template: m.is_template,
            model: None,
            pricing_type: None,
            billable: None,
            conversation_id: None,
        };
        let Some(period) = ctx.period_at(d) else {
            // Before the first period of rules: nothing is metered.
            out.messages.push(priced);
            continue;
        };
        priced.model = Some(period.model.as_str());
        let Some((is_template, category)) = kind_of(m, period.model) else {
            out.messages.push(priced);
            continue;
        };
        let market = m.market.as_deref().unwrap_or(UNKNOWN_MARKET);
        let category = if is_template {
            ctx.resolve_category(&category, period.model, market, m.country.as_deref(), d)
        } else {
            category
        };
        priced.is_template = Some(is_template);
        let window = window_covering(&windows, d);
        match period.model {
            PricingModel::PerMessage => {
                let t = pmp::pricing_type(
                    period,
                    is_template,
                    &category,
                    window.is_some(),
                    timeline.service_window_open(d),
                );
                priced.category = Some(category);
                priced.pricing_type = Some(t);
                priced.billable = Some(t == REGULAR);
            }
            PricingModel::Conversation => {
                let conversation = match window {
                    Some((start, end)) => entry_point.entry(start).or_insert_with(|| {
                        let mut c = new_conversation(m, REFERRAL_CONVERSION, start);
                        c.expires_at = end;
                        c.pricing_type = FREE_ENTRY_POINT;
                        c
                    }),
                    None => {
                        let delivery = cbp::Delivery {
                            at: d,
                            is_template,
                            category: &category,
                        };
                        let i = cbp::place(period, &delivery, &mut open, |cat, at| {
                            new_conversation(m, cat, at)
                        });
                        &open[i]
                    }
                };
                priced.category = Some(conversation.category.clone());
                priced.pricing_type = Some(conversation.pricing_type);
                priced.billable = Some(conversation.pricing_type == REGULAR);
                priced.conversation_id = Some(conversation.conversation_id.clone());
            }
        }
        out.messages.push(priced);
    }
    out.conversations
        .extend(open.into_iter().skip(already_open));
    // Entry-point windows opened before the span were emitted by the day they opened on.
    out.conversations
        .extend(entry_point.into_values().filter(|c| c.opened_at >= span.0));
    out.conversations
        .sort_by(|a, b| (a.opened_at, &a.conversation_id).cmp(&(b.opened_at, &b.conversation_id)));
    out
}
