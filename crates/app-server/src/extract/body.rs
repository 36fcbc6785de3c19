//! JSON bodies: actix's `Json` extractor checks the content type and the size
//! limit and parses; [`Form`] then reads fields one by one so that every
//! missing or mistyped field gets its own message, as DRF serializers do.

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::errors::{ApiError, FieldErrors};

/// Bodies are a few short strings; anything larger is refused with 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

pub const REQUIRED: &str = "This field is required.";

/// Maps actix's JSON extractor errors onto the envelope.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match err {
        JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Overflow { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge,
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) => ApiError::Invalid {
            detail: format!("JSON parse error - {e}"),
            fields: None,
        },
        other => ApiError::Invalid {
            detail: format!("Malformed request body - {other}"),
            fields: None,
        },
    };
    api.into()
}

/// The fields of one JSON object, with the errors found so far.
pub struct Form {
    object: Map<String, Value>,
    errors: FieldErrors,
}

impl Form {
    pub fn new(value: Value) -> Result<Self, ApiError> {
        match value {
            Value::Object(object) => Ok(Self {
                object,
                errors: FieldErrors::new(),
            }),
            other => Err(ApiError::field(
                "non_field_errors",
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    json_kind(&other)
                ),
            )),
        }
    }

    /// A non-blank string; records the error and returns "" otherwise.
    pub fn required_str(&mut self, name: &str) -> String {
        match self.object.remove(name) {
            None => self.error(name, REQUIRED),
            Some(Value::Null) => self.error(name, "This field may not be null."),
            Some(Value::String(s)) if s.is_empty() => {
                self.error(name, "This field may not be blank.")
            }
            Some(Value::String(s)) => return s,
            Some(_) => self.error(name, "Not a valid string."),
        }
        String::new()
    }

    /// A string that may be absent or null.
    pub fn optional_str(&mut self, name: &str) -> Option<String> {
        match self.object.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.error(name, "Not a valid string.");
                None
            }
        }
    }

    /// A boolean that may be absent.
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.object.remove(name) {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                self.error(name, "Must be a valid boolean.");
                None
            }
        }
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .entry(name.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn errors(&mut self, name: &str, messages: Vec<String>) {
        for m in messages {
            self.error(name, m);
        }
    }

    pub fn has_error(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }

    /// `Err` with every field error collected, if there is any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.errors))
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
