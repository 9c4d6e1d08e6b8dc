//! JSON Schema validation of the published payload schemas (`schemas/*.schema.json`, draft
//! 2020-12) with `boon`, a validator nobody here wrote: the conformance steps and the tests
//! check what a device publishes against what the project publishes. Formats are
//! annotations, as draft 2020-12 says; no reference is ever fetched from the network.

use serde_json::Value;

/// Where a schema is registered when it has no `$id` of its own.
const LOCATION: &str = "urn:smart-connect-sim:schema";

/// A schema that is not a valid JSON Schema, or a value that does not match one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(String);

/// A compiled schema.
pub struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validator")
    }
}

impl Validator {
    /// Compile `schema`; an error names what is wrong with it.
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        let loc = schema
            .get("$id")
            .and_then(Value::as_str)
            .unwrap_or(LOCATION)
            .to_string();
        let mut compiler = boon::Compiler::new();
        let mut schemas = boon::Schemas::new();
        compiler
            .add_resource(&loc, schema.clone())
            .map_err(|e| SchemaError(format!("not a JSON Schema: {e}")))?;
        let index = compiler
            .compile(&loc, &mut schemas)
            .map_err(|e| SchemaError(format!("not a valid JSON Schema: {e:#}")))?;
        Ok(Validator { schemas, index })
    }

    /// `Ok` when `v` matches; otherwise every mismatch with where it is in `v`.
    pub fn validate(&self, v: &Value) -> Result<(), SchemaError> {
        self.schemas
            .validate(v, self.index)
            .map_err(|e| SchemaError(format!("{e:#}")))
    }

    pub fn is_valid(&self, v: &Value) -> bool {
        self.validate(v).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_published_schemas_compile_and_judge_values() {
        for text in [
            include_str!("../../schemas/measurements.schema.json"),
            include_str!("../../schemas/events.schema.json"),
        ] {
            let s: Value = serde_json::from_str(text).unwrap();
            let v = Validator::new(&s).unwrap();
            assert!(!v.is_valid(&json!(17)), "a number is no payload object");
        }
        let v = Validator::new(&json!({
            "type": "object",
            "properties": {"p": {"type": "number", "minimum": 0}},
            "required": ["p"],
            "additionalProperties": false
        }))
        .unwrap();
        assert!(v.is_valid(&json!({"p": 1.5})));
        let e = v.validate(&json!({"p": -1})).unwrap_err().to_string();
        assert!(e.contains("/p"), "names where: {e}");
        assert!(!v.is_valid(&json!({"p": 1, "q": 2})));
        assert!(!v.is_valid(&json!({})));
    }

    #[test]
    fn a_broken_schema_is_refused_with_the_reason() {
        let e = Validator::new(&json!({"type": 12}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid JSON Schema"), "{e}");
    }
}
