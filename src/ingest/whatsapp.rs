//! Webhook bodies in the Meta Cloud API shape (events.md §1). One line is one POST body; a
//! body fans out into one record per `messages[]`, `statuses[]` and echo item and one per
//! non-messaging change. Each item is parsed on its own, so a bad item is quarantined alone
//! (with its item path) while the rest of the body is ingested.

use std::sync::Arc;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::normalize::{
    business_id, identifier, normalise_category, one_of, parse_timestamp, Checked, Customer, Event,
    IdentityPair, Normalizer, Reason, Rejection, PRICING_MODELS, STATUSES,
};
use super::scalar::{Field, Item, List, Scalar};
use super::LineOutcome;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    entry: Option<List<Item<Entry<'a>>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    changes: Option<List<Item<Change<'a>>>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow, default)]
    field: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    value: Option<Item<ChangeValue<'a>>>,
}

#[derive(Deserialize, Default)]
struct ChangeValue<'a> {
    #[serde(borrow, default)]
    metadata: Option<Item<Metadata<'a>>>,
    #[serde(borrow, default)]
    contacts: Option<List<Item<Contact<'a>>>>,
    #[serde(borrow, default)]
    messages: Option<List<Item<MessageItem<'a>>>>,
    #[serde(borrow, default)]
    statuses: Option<List<Item<StatusItem<'a>>>>,
    #[serde(borrow, default)]
    message_echoes: Option<List<Item<MessageItem<'a>>>>,
}

#[derive(Deserialize, Default)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    phone_number_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    display_phone_number: Option<Scalar<'a>>,
}

#[derive(Deserialize, Default)]
struct Contact<'a> {
    #[serde(borrow, default)]
    wa_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    user_id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct MessageItem<'a> {
    #[serde(borrow, default)]
    from: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    from_user_id: Option<Scalar<'a>>,
    /// Echoes name the customer in `to`.
    #[serde(borrow, default)]
    to: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    to_user_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "type")]
    message_type: Option<Scalar<'a>>,
    #[serde(default)]
    referral: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct StatusItem<'a> {
    #[serde(borrow, default)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    status: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    recipient_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    recipient_user_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    recipient_type: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    conversation: Option<Item<Conversation<'a>>>,
    #[serde(borrow, default)]
    pricing: Option<Item<Pricing<'a>>>,
    #[serde(borrow, default)]
    errors: Option<List<Item<ErrorItem<'a>>>>,
}

#[derive(Deserialize)]
struct Conversation<'a> {
    #[serde(borrow, default)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    expiration_timestamp: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    origin: Option<Item<Origin<'a>>>,
}

#[derive(Deserialize)]
struct Origin<'a> {
    #[serde(borrow, default, rename = "type")]
    origin_type: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Pricing<'a> {
    #[serde(borrow, default)]
    billable: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pricing_model: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    category: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "type")]
    pricing_type: Option<Scalar<'a>>,
    /// Some senders spell `type` as `pricing_type`.
    #[serde(borrow, default, rename = "pricing_type")]
    pricing_type_alt: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct ErrorItem<'a> {
    #[serde(borrow, default)]
    code: Option<Scalar<'a>>,
}

/// Parse one webhook body (already known to be valid UTF-8 and not blank) into `out`.
pub fn parse_line(line: &str, n: &Normalizer<'_>, out: &mut LineOutcome) {
    let body: Body<'_> = match serde_json::from_str(line) {
        Ok(b) => b,
        Err(e) => return out.reject_line(super::classify_json_error(line, Some(&e))),
    };
    let entries = match body.entry.as_ref().map(|e| e.items("entry")) {
        None => return out.reject_line(Rejection::missing("entry")),
        Some(Err(r)) => return out.reject_line(r),
        Some(Ok(entries)) => entries,
    };
    for (ei, entry) in entries.iter().enumerate() {
        let path = ItemPath {
            entry: ei,
            change: None,
            item: None,
        };
        let entry = match entry.object_at(|| path.to_string()) {
            Ok(e) => e,
            Err(r) => {
                out.reject(path.to_string(), r);
                continue;
            }
        };
        // An empty id is a bad id (metrics.md), not a missing field.
        let business_id = match match &entry.id {
            Some(Scalar::Text(s)) if s.trim().is_empty() => Ok(""),
            other => other.required_text("entry.id", Reason::BadIdentifier),
        }
        .and_then(|s| business_id(s, "business_id (entry.id)"))
        {
            Ok(b) => b,
            Err(r) => {
                out.reject(path.to_string(), r);
                continue;
            }
        };
        let changes = match entry.changes.as_ref().map(|c| c.items("changes")) {
            None => continue,
            Some(Err(r)) => {
                out.reject(path.to_string(), r);
                continue;
            }
            Some(Ok(c)) => c,
        };
        for (ci, change) in changes.iter().enumerate() {
            let path = ItemPath {
                change: Some(ci),
                ..path
            };
            if let Err(r) = change
                .object_at(|| path.to_string())
                .and_then(|c| parse_change(c, &business_id, path, n, out))
            {
                out.reject(path.to_string(), r);
            }
        }
    }
}

fn parse_change(
    change: &Change<'_>,
    business_id: &str,
    path: ItemPath,
    n: &Normalizer<'_>,
    out: &mut LineOutcome,
) -> Checked<()> {
    let field = change.field.required_text("field", Reason::BadEnum)?;
    let is_echo = match field {
        "messages" => false,
        "smb_message_echoes" => true,
        other => {
            // A valid webhook that carries no messaging: counted by its field name.
            out.skip(other.to_string());
            return Ok(());
        }
    };
    let value = match &change.value {
        Some(v) => v.object("value")?,
        None => return Err(Rejection::missing("value")),
    };
    let (phone_number_id, business_number) = match &value.metadata {
        Some(Item::Object(m)) => (
            m.phone_number_id
                .text("metadata.phone_number_id", Reason::BadIdentifier)?
                .map(str::to_string),
            m.display_phone_number
                .text("metadata.display_phone_number", Reason::BadIdentifier)?
                .map(str::to_string),
        ),
        _ => (None, None),
    };
    // Contacts carrying both a number and a business-scoped user id teach the identity.
    let contacts: Vec<&Contact<'_>> = match &value.contacts {
        Some(List::Items(cs)) => cs
            .iter()
            .filter_map(|c| match c {
                Item::Object(c) => Some(c),
                Item::NotAnObject => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let contact_phone = contacts
        .iter()
        .find_map(|c| c.wa_id.text("wa_id", Reason::BadIdentifier).ok().flatten());
    let contact_user = contacts.iter().find_map(|c| {
        c.user_id
            .text("user_id", Reason::BadIdentifier)
            .ok()
            .flatten()
    });
    let ctx = ChangeContext {
        business_id,
        phone_number_id: phone_number_id.as_deref(),
        business_number: business_number.as_deref(),
        contact_phone,
        contact_user,
    };
    let lists: [(&str, Option<&List<Item<MessageItem<'_>>>>); 2] = if is_echo {
        [
            ("message_echoes", value.message_echoes.as_ref()),
            ("messages", value.messages.as_ref()),
        ]
    } else {
        [("messages", value.messages.as_ref()), ("statuses", None)]
    };
    for (list_name, list) in lists {
        let Some(list) = list else { continue };
        for (ii, item) in list.items(list_name)?.iter().enumerate() {
            let item_path = ItemPath {
                item: Some((list_name, ii)),
                ..path
            };
            let result = item.object_at(|| item_path.to_string()).and_then(|m| {
                if is_echo {
                    echo_event(m, &ctx, n, out)
                } else {
                    message_event(m, &ctx, n, out)
                }
            });
            settle(result, item_path, out);
        }
    }
    if !is_echo {
        if let Some(list) = &value.statuses {
            for (ii, item) in list.items("statuses")?.iter().enumerate() {
                let item_path = ItemPath {
                    item: Some(("statuses", ii)),
                    ..path
                };
                let result = item
                    .object_at(|| item_path.to_string())
                    .and_then(|s| status_event(s, &ctx, n, out));
                settle(result, item_path, out);
            }
        }
    }
    Ok(())
}

/// Where in a body a record sits, e.g. `entry[0].changes[1].value.statuses[2]`: written
/// out only for a record that is quarantined.
#[derive(Debug, Clone, Copy)]
struct ItemPath {
    entry: usize,
    change: Option<usize>,
    item: Option<(&'static str, usize)>,
}

impl std::fmt::Display for ItemPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry[{}]", self.entry)?;
        if let Some(c) = self.change {
            write!(f, ".changes[{c}]")?;
        }
        if let Some((list, i)) = self.item {
            write!(f, ".value.{list}[{i}]")?;
        }
        Ok(())
    }
}

fn settle(result: Checked<Option<Event>>, item_path: ItemPath, out: &mut LineOutcome) {
    match result {
        Ok(Some(mut e)) => {
            e.compute_content_hash();
            out.accept(e);
        }
        Ok(None) => {}
        Err(r) => out.reject(item_path.to_string(), r),
    }
}

struct ChangeContext<'c> {
    business_id: &'c str,
    phone_number_id: Option<&'c str>,
    /// The business's own number: never the customer.
    business_number: Option<&'c str>,
    contact_phone: Option<&'c str>,
    contact_user: Option<&'c str>,
}

/// The customer of an item: its own number, else the change's contact number, else a
/// business-scoped user id. A number and a user id seen together are remembered.
fn resolve_customer(
    phone: Option<&str>,
    user_id: Option<&str>,
    ctx: &ChangeContext<'_>,
    ts: i64,
    n: &Normalizer<'_>,
    out: &mut LineOutcome,
) -> Checked<Option<Arc<Customer>>> {
    fn valid(p: &str) -> Option<&str> {
        let d = p.trim().trim_start_matches('+');
        (!d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
    }
    // The item's own number first; the change's contact when the item has none (or only a
    // placeholder, as business-app echoes sometimes carry).
    let phone = match (phone, ctx.contact_phone.and_then(valid)) {
        (Some(p), contact) => match (valid(p), contact) {
            (Some(d), _) => Some(d),
            (None, Some(c)) => Some(c),
            (None, None) => {
                return Err(Rejection::new(
                    Reason::BadIdentifier,
                    "customer number is not digits (from / to / recipient_id)",
                ))
            }
        },
        (None, contact) => contact,
    };
    let item_user = user_id.filter(|u| !u.trim().is_empty() && !u.contains('<'));
    let user_id = item_user.or(ctx.contact_user);
    let customer = match phone {
        Some(digits) => {
            let c = n.phone_customer(digits, ts);
            if let Some(u) = user_id {
                out.identities.push(IdentityPair {
                    business_id: ctx.business_id.to_string(),
                    user_key: n.pseudonyms.key_of(u.trim()),
                    customer: Customer::clone(&c),
                    ts,
                });
            }
            c
        }
        None => match user_id {
            Some(u) => n.user_id_customer(u.trim()),
            None => return Ok(None),
        },
    };
    Ok(Some(customer))
}

fn timestamp(v: &Option<Scalar<'_>>, n: &Normalizer<'_>) -> Checked<i64> {
    let ts = parse_timestamp(
        v.required_text("timestamp", Reason::BadTimestamp)?,
        "timestamp",
    )?;
    n.check_time(ts, "timestamp")
}

fn message_event(
    m: &MessageItem<'_>,
    ctx: &ChangeContext<'_>,
    n: &Normalizer<'_>,
    out: &mut LineOutcome,
) -> Checked<Option<Event>> {
    let message_type = m
        .message_type
        .text("type", Reason::BadEnum)?
        .map(|t| t.trim().to_ascii_lowercase());
    if message_type.as_deref() == Some("system") {
        // "The customer changed number" and similar: nobody wrote it.
        out.skip("system_message".to_string());
        return Ok(None);
    }
    let message_id = identifier(m.id.required_text("id", Reason::BadIdentifier)?, "id")?;
    let ts = timestamp(&m.timestamp, n)?;
    let customer = resolve_customer(
        m.from.text("from", Reason::BadIdentifier)?,
        m.from_user_id.text("from_user_id", Reason::BadIdentifier)?,
        ctx,
        ts,
        n,
        out,
    )?
    .ok_or_else(|| Rejection::missing("from"))?;
    Ok(Some(Event {
        event_key: [ctx.business_id, "in", &message_id].join("|"),
        event_type: "message_in",
        ts,
        business_id: ctx.business_id.to_string(),
        phone_number_id: ctx.phone_number_id.map(str::to_string),
        customer: Some(customer),
        message_id: Some(message_id),
        message_type,
        referral: Some(m.referral.is_some()),
        ..Event::default()
    }))
}

fn echo_event(
    m: &MessageItem<'_>,
    ctx: &ChangeContext<'_>,
    n: &Normalizer<'_>,
    out: &mut LineOutcome,
) -> Checked<Option<Event>> {
    let message_id = identifier(m.id.required_text("id", Reason::BadIdentifier)?, "id")?;
    let ts = timestamp(&m.timestamp, n)?;
    // An echo is sent to the customer; some senders swap `from` and `to` (revokes, edits),
    // so the customer is whichever of them is not the business's own number.
    let to = m.to.text("to", Reason::BadIdentifier)?;
    let from = m.from.text("from", Reason::BadIdentifier)?;
    let is_business = |n: &str| {
        ctx.business_number
            .is_some_and(|b| b == n.trim_start_matches('+'))
    };
    let number = match (to, from) {
        (Some(t), Some(f)) if is_business(t) && !is_business(f) => Some(f),
        (t, _) => t,
    };
    let customer = resolve_customer(
        number,
        m.to_user_id.text("to_user_id", Reason::BadIdentifier)?,
        ctx,
        ts,
        n,
        out,
    )?
    .ok_or_else(|| Rejection::missing("to"))?;
    let message_type = m
        .message_type
        .text("type", Reason::BadEnum)?
        .map(|t| t.trim().to_ascii_lowercase());
    Ok(Some(Event {
        event_key: [ctx.business_id, "out", &message_id].join("|"),
        event_type: "message_out",
        ts,
        business_id: ctx.business_id.to_string(),
        phone_number_id: ctx.phone_number_id.map(str::to_string),
        customer: Some(customer),
        message_id: Some(message_id),
        message_type,
        // Sent by a person from the business's phone app.
        sender: Some("agent"),
        ..Event::default()
    }))
}

fn status_event(
    s: &StatusItem<'_>,
    ctx: &ChangeContext<'_>,
    n: &Normalizer<'_>,
    out: &mut LineOutcome,
) -> Checked<Option<Event>> {
    if s.recipient_type.text("recipient_type", Reason::BadEnum)? == Some("group") {
        out.skip("group_message".to_string());
        return Ok(None);
    }
    let message_id = identifier(s.id.required_text("id", Reason::BadIdentifier)?, "id")?;
    let status = one_of(
        s.status.required_text("status", Reason::BadEnum)?.trim(),
        &STATUSES,
        "status",
    )?;
    let ts = timestamp(&s.timestamp, n)?;
    let customer = resolve_customer(
        s.recipient_id.text("recipient_id", Reason::BadIdentifier)?,
        s.recipient_user_id
            .text("recipient_user_id", Reason::BadIdentifier)?,
        ctx,
        ts,
        n,
        out,
    )?;
    let mut e = Event {
        event_key: [ctx.business_id, "status", &message_id, status].join("|"),
        event_type: "status",
        ts,
        business_id: ctx.business_id.to_string(),
        phone_number_id: ctx.phone_number_id.map(str::to_string),
        customer,
        message_id: Some(message_id),
        status: Some(status),
        ..Event::default()
    };
    if let Some(c) = &s.conversation {
        let c = c.object("conversation")?;
        e.conversation_id =
            c.id.text("conversation.id", Reason::BadIdentifier)?
                .map(|id| identifier(id, "conversation.id"))
                .transpose()?;
        e.conversation_expires = c
            .expiration_timestamp
            .text("conversation.expiration_timestamp", Reason::BadTimestamp)?
            .map(|t| parse_timestamp(t, "conversation.expiration_timestamp"))
            .transpose()?;
        e.conversation_origin = match &c.origin {
            Some(o) => o
                .object("conversation.origin")?
                .origin_type
                .text("conversation.origin.type", Reason::BadEnum)?
                .map(normalise_category),
            None => None,
        };
    }
    if let Some(p) = &s.pricing {
        let p = p.object("pricing")?;
        e.reported_pricing_model = p
            .pricing_model
            .text("pricing.pricing_model", Reason::BadEnum)?
            .map(|m| one_of(m.trim(), &PRICING_MODELS, "pricing.pricing_model"))
            .transpose()?;
        e.reported_category = p
            .category
            .text("pricing.category", Reason::BadEnum)?
            .map(normalise_category);
        let pricing_type = match p.pricing_type.text("pricing.type", Reason::BadEnum)? {
            Some(t) => Some(t),
            None => p
                .pricing_type_alt
                .text("pricing.pricing_type", Reason::BadEnum)?,
        };
        e.reported_pricing_type = pricing_type.map(normalise_category);
        // Missing `billable` means: billable exactly when the type is `regular`.
        e.reported_billable = match p.billable.flag("pricing.billable")? {
            Some(b) => Some(b),
            None => e.reported_pricing_type.as_deref().map(|t| t == "regular"),
        };
    }
    if let Some(errors) = &s.errors {
        e.error_code = errors
            .items("errors")?
            .iter()
            .find_map(|er| match er {
                Item::Object(er) => er
                    .code
                    .text("errors[].code", Reason::BadEnum)
                    .ok()
                    .flatten(),
                Item::NotAnObject => None,
            })
            .map(str::to_string);
    }
    Ok(Some(e))
}
