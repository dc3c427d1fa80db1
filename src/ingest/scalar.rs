//! A JSON field as the inputs actually write it: a string, a number, a bool, null — or
//! something that should not be there (an object or array). Parsing every field into this
//! instead of a fixed Rust type lets a wrong type become a quarantine reason that names the
//! field, rather than a parse error for the whole line.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::normalize::{Checked, Reason, Rejection};

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A JSON number, kept as its text (ids and epochs are written as numbers too).
    Number(String),
    Text(Cow<'a, str>),
    /// An object or array where a scalar was expected.
    Compound,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Compound)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Compound)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Accessors on an optional field, each naming the field in its rejection.
pub trait Field<'a> {
    /// The field as text; `None` when absent, null or an empty string.
    fn text(&self, field: &str, wrong_type: Reason) -> Checked<Option<&str>>;
    fn required_text(&self, field: &str, wrong_type: Reason) -> Checked<&str>;
    fn flag(&self, field: &str) -> Checked<Option<bool>>;
}

impl<'a> Field<'a> for Option<Scalar<'a>> {
    fn text(&self, field: &str, wrong_type: Reason) -> Checked<Option<&str>> {
        match self {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Text(s)) if s.trim().is_empty() => Ok(None),
            Some(Scalar::Text(s)) => Ok(Some(s.as_ref())),
            Some(Scalar::Number(n)) => Ok(Some(n.as_str())),
            Some(Scalar::Bool(b)) => Ok(Some(if *b { "true" } else { "false" })),
            Some(Scalar::Compound) => Err(Rejection::new(
                wrong_type,
                format!("`{field}` must be a string or number, not an object or array"),
            )),
        }
    }

    fn required_text(&self, field: &str, wrong_type: Reason) -> Checked<&str> {
        self.text(field, wrong_type)?
            .ok_or_else(|| Rejection::missing(field))
    }

    fn flag(&self, field: &str) -> Checked<Option<bool>> {
        let bad = |v: &str| {
            Rejection::new(Reason::BadEnum, format!("`{field}` {v:?} is not true or false"))
        };
        match self {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Bool(b)) => Ok(Some(*b)),
            Some(Scalar::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                other => Err(bad(other)),
            },
            Some(Scalar::Number(n)) => match n.as_str() {
                "1" => Ok(Some(true)),
                "0" => Ok(Some(false)),
                other => Err(bad(other)),
            },
            Some(Scalar::Compound) => Err(bad("an object or array")),
        }
    }
}
