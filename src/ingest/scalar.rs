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
            Rejection::new(
                Reason::BadEnum,
                format!("`{field}` {v:?} is not true or false"),
            )
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

/// A JSON value expected to be an object of shape `T`: anything else (an array, a string)
/// becomes `NotAnObject` instead of failing the whole line, so one bad item in a webhook
/// body is quarantined alone.
#[derive(Debug)]
pub enum Item<T> {
    Object(T),
    NotAnObject,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Item<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Item::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Item::NotAnObject)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Item::NotAnObject)
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T> Item<T> {
    /// The object, or a `not_an_object` rejection naming it.
    pub fn object(&self, what: &str) -> Checked<&T> {
        self.object_at(|| what.to_string())
    }

    /// [`Item::object`], naming it by `what()` only when it is not one.
    pub fn object_at(&self, what: impl FnOnce() -> String) -> Checked<&T> {
        match self {
            Item::Object(t) => Ok(t),
            Item::NotAnObject => Err(Rejection::new(
                Reason::NotAnObject,
                format!("`{}` is not an object", what()),
            )),
        }
    }
}

/// A JSON value expected to be an array of `T`; anything else is `NotAList`.
#[derive(Debug)]
pub enum List<T> {
    Items(Vec<T>),
    NotAList,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(t) = seq.next_element::<T>()? {
                    items.push(t);
                }
                Ok(List::Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::NotAList)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(List::NotAList)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(List::NotAList)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(List::NotAList)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(List::NotAList)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(List::NotAList)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(List::Items(Vec::new()))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T> List<T> {
    pub fn items(&self, what: &str) -> Checked<&[T]> {
        match self {
            List::Items(v) => Ok(v),
            List::NotAList => Err(Rejection::new(
                Reason::MalformedJson,
                format!("`{what}` is not an array"),
            )),
        }
    }
}
