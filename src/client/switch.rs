//! Settings a file can turn off: `breaker = false`, `attempt_timeout = "off"`.
//!
//! TOML has no `null`, so an `Option` setting whose default is on (the attempt timeout,
//! idempotency keys) could not be turned off from a file, nor could a profile turn off what
//! a base file turned on. These deserializers read `false`, `"off"` and `null` as `None`,
//! `true` as the setting's default, and anything else as the setting itself, with the
//! setting's own error messages.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// `false`, `"off"`, `null` → `None`; `true` → `Some(T::default())`; a table → `Some(T)`.
pub(super) fn setting<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    deserializer.deserialize_any(Setting {
        defaults: Some(T::default),
        _of: PhantomData,
    })
}

/// [`setting`] for a setting without defaults: `true` is an error, the table is needed.
pub(super) fn required_table<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_any(Setting::<T> {
        defaults: None,
        _of: PhantomData,
    })
}

struct Setting<T> {
    /// What `true` means, when the setting has defaults.
    defaults: Option<fn() -> T>,
    _of: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Setting<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.defaults.is_some() {
            f.write_str("a table of settings, true (the defaults), or false / \"off\"")
        } else {
            f.write_str("a table of settings, or false / \"off\"")
        }
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        match (on, self.defaults) {
            (false, _) => Ok(None),
            (true, Some(defaults)) => Ok(Some(defaults())),
            (true, None) => Err(E::invalid_value(de::Unexpected::Bool(true), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        // Variables are text: `STEADFAST_BREAKER=true` reads as the boolean.
        if is_off(value) {
            self.visit_bool(false)
        } else if value.eq_ignore_ascii_case("true") {
            self.visit_bool(true)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(value), &self))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        inner.deserialize_any(self)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
}

/// A duration (`"250ms"`, `"30s"`) or `false` / `"off"` / `null` for none.
pub(super) fn duration<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(DurationSetting)
}

struct DurationSetting;

impl Visitor<'_> for DurationSetting {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"30s\", or false / \"off\"")
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        if on {
            Err(E::invalid_value(de::Unexpected::Bool(true), &self))
        } else {
            Ok(None)
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        if is_off(value) {
            return Ok(None);
        }
        humantime_serde::re::humantime::parse_duration(value)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(value), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `"off"`, or `"false"` as a variable spells a boolean.
fn is_off(value: &str) -> bool {
    value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("false")
}
