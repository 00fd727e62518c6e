//! Reads a JSON object field by field, collecting every problem instead of stopping at the
//! first, so a client learns all that is wrong with a request at once.

use serde_json::{Map, Value};

use crate::error::FieldError;

/// A request body being turned into domain values.
pub struct Input {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Input {
    /// Starts reading `fields`; any key not in `writable` is an error (read-only ones say so).
    pub fn new(fields: Map<String, Value>, writable: &[&str], read_only: &[&str]) -> Self {
        let mut errors = Vec::new();
        for key in fields.keys() {
            if read_only.contains(&key.as_str()) {
                errors.push(FieldError::new(key, "is read-only"));
            } else if !writable.contains(&key.as_str()) {
                errors.push(FieldError::new(key, "is not a known field"));
            }
        }
        Input { fields, errors }
    }

    /// A field that may be absent but never `null`; `None` when absent or invalid.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.fields.get(name) {
            None => None,
            Some(Value::Null) => {
                self.errors.push(FieldError::new(name, "must not be null"));
                None
            }
            Some(value) => self.record(name, parse(value)),
        }
    }

    /// A field that may be absent (`None`) or `null` (`Some(None)`).
    pub fn nullable<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.fields.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(value) => self.record(name, parse(value)).map(Some),
        }
    }

    /// A field that must be present and valid.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        if !self.fields.contains_key(name) {
            self.errors.push(FieldError::new(name, "is required"));
            return None;
        }
        self.optional(name, parse)
    }

    /// Records a problem found while combining fields.
    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    /// Whether the body named this field at all.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// Ends reading: the collected errors, if any.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    fn record<T>(&mut self, name: &str, parsed: Result<T, String>) -> Option<T> {
        parsed
            .map_err(|message| self.errors.push(FieldError::new(name, message)))
            .ok()
    }
}

/// A string of `min..=max` characters after trimming surrounding whitespace.
pub fn trimmed_text(value: &Value, min: usize, max: usize) -> Result<String, String> {
    let text = value.as_str().ok_or("must be a string")?.trim();
    check_length(text, min, max)?;
    Ok(text.to_string())
}

/// A string of at most `max` characters, kept exactly as sent.
pub fn text(value: &Value, min: usize, max: usize) -> Result<String, String> {
    let text = value.as_str().ok_or("must be a string")?;
    check_length(text, min, max)?;
    Ok(text.to_string())
}

fn check_length(text: &str, min: usize, max: usize) -> Result<(), String> {
    // PostgreSQL cannot store NUL in text; refusing it everywhere keeps both databases alike.
    if text.contains('\0') {
        return Err("must not contain the NUL character".into());
    }
    let length = text.chars().count();
    if length < min && min == 1 {
        return Err("must not be empty".into());
    }
    if length < min || length > max {
        return Err(format!("must be {min} to {max} characters long"));
    }
    Ok(())
}

/// Largest whole number a JSON number with a fraction part (`12.0`) stands for exactly.
const EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A whole number in `min..=max`. `12.0` is the whole number 12, as JSON Schema has it.
pub fn integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let whole = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT_FLOAT_INTEGER)
            .map(|f| f as i64)
    });
    match whole {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    }
}

/// A resource id: a positive whole number.
pub fn id(value: &Value) -> Result<i64, String> {
    integer(value, 1, i64::MAX).map_err(|_| "must be a positive whole number (an id)".into())
}

pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".into())
}

/// One of a closed set of strings (a `string_enum!`).
pub fn one_of<T: std::str::FromStr<Err = String>>(value: &Value) -> Result<T, String> {
    value
        .as_str()
        .ok_or_else(|| "must be a string".to_string())?
        .parse()
}

/// A slug: 1–50 characters of `a-z`, `0-9` and `_`.
pub fn slug(value: &Value) -> Result<String, String> {
    let text = value.as_str().ok_or("must be a string")?;
    let valid = (1..=50).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(text.to_string())
    } else {
        Err("must be 1 to 50 characters of a-z, 0-9 and _".into())
    }
}

/// An email address, lowercased; checked for shape only (delivery proves the rest).
pub fn email(value: &Value) -> Result<String, String> {
    let text = value
        .as_str()
        .ok_or("must be a string")?
        .trim()
        .to_lowercase();
    let well_formed = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !well_formed || text.len() > 254 {
        return Err("must be an email address".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_problem_is_collected_with_its_field() {
        let mut input = Input::new(
            object(json!({"a": 1, "id": 3, "zzz": true})),
            &["a", "b"],
            &["id"],
        );
        input.required("a", |v| text(v, 1, 5));
        input.required("b", |v| text(v, 1, 5));
        let errors = input.finish().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "zzz", "a", "b"]);
    }

    #[test]
    fn null_is_distinct_from_absent() {
        let mut input = Input::new(object(json!({"x": null})), &["x", "y"], &[]);
        assert_eq!(input.nullable("x", id), Some(None));
        assert_eq!(input.nullable("y", id), None);
        assert!(input.finish().is_ok());
    }

    #[test]
    fn shapes_are_checked() {
        assert!(slug(&json!("child_labour")).is_ok());
        assert!(slug(&json!("Child Labour")).is_err());
        assert_eq!(
            email(&json!(" A@Example.org ")),
            Ok("a@example.org".to_string())
        );
        for bad in ["a", "@x", "a@", "a b@x", "a@x@y"] {
            assert!(email(&json!(bad)).is_err(), "{bad} should be refused");
        }
        assert!(trimmed_text(&json!("   "), 1, 10).is_err());
        assert!(text(&json!("a\0b"), 1, 10).is_err());
        assert_eq!(text(&json!("ééé"), 1, 3), Ok("ééé".to_string()));
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_part_are_whole_numbers() {
        assert_eq!(integer(&json!(12.0), 0, 130), Ok(12));
        assert_eq!(id(&json!(7.0)), Ok(7));
        for bad in [
            json!(12.5),
            json!(131.0),
            json!(-1.0),
            json!(1e300),
            json!("12"),
        ] {
            assert!(integer(&bad, 0, 130).is_err(), "{bad} should be refused");
        }
    }
}
