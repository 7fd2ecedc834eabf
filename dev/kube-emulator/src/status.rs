//! API errors in the `Status` shape the real API server answers with (S1/S2).

use serde_json::{Value, json};

/// One `details.causes[]` entry of an Invalid or Conflict answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueInvalid",
            message: message.into(),
            field: field.into(),
        }
    }
    pub fn required(field: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: field.into(),
        }
    }
    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueForbidden",
            message: message.into(),
            field: field.into(),
        }
    }
    pub fn too_long(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueTooLong",
            message: message.into(),
            field: field.into(),
        }
    }
    pub fn not_supported(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueNotSupported",
            message: message.into(),
            field: field.into(),
        }
    }
}

/// An error answer: HTTP code plus the `Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub body: Value,
}

/// The `<resource>[.<group>]` text the server uses in messages.
pub fn qualified(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut d = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        let mut body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message.into(), "code": code,
        });
        if !reason.is_empty() {
            body["reason"] = json!(reason);
        }
        ApiError { code, body }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.body["details"] = details;
        self
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.body["message"] = json!(message.into());
        self
    }

    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(plural, group)),
        )
        .with_details(details(name, group, plural))
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(plural, group)),
        )
        .with_details(details(name, group, plural))
    }

    pub fn conflict(plural: &str, group: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(plural, group)
            ),
        )
        .with_details(details(name, group, plural))
    }

    pub fn stale(plural: &str, group: &str, name: &str) -> Self {
        Self::conflict(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid; `kind` is the object Kind, `group` its API group.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = match summary.len() {
            1 => summary[0].clone(),
            _ => format!("[{}]", summary.join(", ")),
        };
        let mut d = details(name, group, kind);
        d["causes"] = causes_json(&causes);
        Self::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {summary}",
                qualified(kind, group)
            ),
        )
        .with_details(d)
    }

    /// 409 from server-side apply with one FieldManagerConflict cause per field.
    pub fn apply_conflict(plural: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let n = causes.len();
        let lines: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.message, c.field))
            .collect();
        let mut d = details(name, group, plural);
        d["causes"] = causes_json(&causes);
        Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {n} conflict{}: {}",
                if n == 1 { "" } else { "s" },
                lines.join("\n")
            ),
        )
        .with_details(d)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unsupported_media_type(content_type: &str, supported: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                if supported.is_empty() {
                    content_type.to_string()
                } else {
                    supported.join(", ")
                }
            ),
        )
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The Status object a too-old watch receives in its single ERROR event (W4).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// Error injected by the fault switch, shaped like the real error of that code.
    pub fn injected(code: u16, plural: &str, group: &str, name: &str) -> Self {
        match code {
            409 => Self::stale(plural, group, name),
            404 => Self::not_found(plural, group, name),
            422 => Self::invalid(
                plural,
                group,
                name,
                vec![Cause::invalid("", "injected fault")],
            ),
            429 => Self::new(429, "TooManyRequests", "injected fault"),
            503 => Self::new(503, "ServiceUnavailable", "injected fault"),
            504 => Self::new(504, "Timeout", "injected fault"),
            _ => Self::new(code, "InternalError", "injected fault"),
        }
    }
}

fn causes_json(causes: &[Cause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
            .collect(),
    )
}

/// The success Status answered for a DELETE that removed the object (X6).
pub fn delete_success(plural: &str, group: &str, name: &str, uid: &str) -> Value {
    let mut d = details(name, group, plural);
    d["uid"] = json!(uid);
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d })
}
