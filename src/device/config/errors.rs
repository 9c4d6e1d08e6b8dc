//! Why a configuration is refused: `ConfigError` names one field (its JSON pointer, why, the
//! offending value) and `ConfigErrors` holds every refused field of one patch or document —
//! never empty, one error per field, in document order — so a client fixes all its mistakes
//! after one answer (API-09).

use super::shape::document_order;
use serde_json::{json, Value};
use std::fmt;

/// A refused field: its JSON pointer (RFC 6901), why, and the offending value (`null` when
/// there is none, or for a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub pointer: String,
    pub message: String,
    pub value: Value,
}

impl ConfigError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>, value: Value) -> Self {
        ConfigError {
            pointer: pointer.into(),
            message: message.into(),
            value,
        }
    }

    /// The JSON error body for the HTTP layer.
    pub fn to_json(&self) -> Value {
        json!({"error": self.to_string(), "field": self.pointer,
               "message": self.message, "value": self.value})
    }
}

impl fmt::Display for ConfigError {
    /// `"{pointer}: {message}"`; just the message for the document root (pointer `""`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every refused field, in document order (the key order of `GET /api/v1/config`; unknown
/// keys first at their level). Never empty; at most one error per field.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors {
    /// Boxed: a `Result<_, ConfigErrors>` stays small.
    first: Box<ConfigError>,
    rest: Vec<ConfigError>,
}

impl ConfigErrors {
    /// `Err` with `errors` in document order, keeping the first error found for each field;
    /// `Ok` when there are none.
    pub fn check(errors: Vec<ConfigError>) -> Result<(), ConfigErrors> {
        let mut kept: Vec<ConfigError> = Vec::with_capacity(errors.len());
        for e in errors {
            if !kept.iter().any(|k| k.pointer == e.pointer) {
                kept.push(e);
            }
        }
        // Stable: errors at the same place keep the order they were found in.
        kept.sort_by_cached_key(|e| document_order(&e.pointer));
        let mut it = kept.into_iter();
        match it.next() {
            None => Ok(()),
            Some(first) => Err(ConfigErrors {
                first: Box::new(first),
                rest: it.collect(),
            }),
        }
    }

    /// `earlier` and these errors together, in document order.
    pub fn after(self, earlier: Vec<ConfigError>) -> ConfigErrors {
        let fallback = (*self.first).clone();
        let mut all = earlier;
        all.extend(self.into_vec());
        ConfigErrors::check(all)
            .err()
            .unwrap_or_else(|| fallback.into())
    }

    /// The first error in document order.
    pub fn first(&self) -> &ConfigError {
        &self.first
    }

    /// Every error, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(&*self.first).chain(&self.rest)
    }

    pub fn into_vec(self) -> Vec<ConfigError> {
        let mut v = Vec::with_capacity(self.rest.len().saturating_add(1));
        v.push(*self.first);
        v.extend(self.rest);
        v
    }

    /// The pointers of every error, in document order.
    pub fn pointers(&self) -> Vec<&str> {
        self.iter().map(|e| e.pointer.as_str()).collect()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(first: ConfigError) -> Self {
        ConfigErrors {
            first: Box::new(first),
            rest: Vec::new(),
        }
    }
}

impl fmt::Display for ConfigErrors {
    /// Every error as `ConfigError` shows it, separated by `"; "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
