//! Server-side printing: objects in the `meta.k8s.io` `Table` form that kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Custom resources get Name plus their CRD version's `additionalPrinterColumns`, or Name and
//! Age when the CRD lists none, with cells computed as the real server computes them: missing
//! values are null, `string` columns print the value, `date` columns become ages such as `5m`
//! (a future time is `<invalid>`). Secrets, Namespaces, Events and Leases get the real
//! server's columns; the other built-in kinds get Name and Age.

use crate::jsonpath::JsonPath;
use crate::resources::ResourceType;
use crate::status::ApiError;
use jiff::Timestamp;
use serde_json::{Value, json};

/// What each row carries besides its cells: the `includeObject` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Include {
    None,
    /// The object as PartialObjectMetadata (the default).
    #[default]
    Metadata,
    Object,
}

impl Include {
    pub fn parse(value: Option<&str>) -> Result<Include, ApiError> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(Include::Metadata),
            "None" => Ok(Include::None),
            "Object" => Ok(Include::Object),
            other => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// A request for the Table form: the `meta.k8s.io` version asked for and what rows include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRequest {
    pub version: &'static str,
    pub include: Include,
}

impl TableRequest {
    fn api_version(&self) -> String {
        format!("meta.k8s.io/{}", self.version)
    }
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// How one column's cell is computed from an object.
enum Cell {
    Name,
    /// A JSONPath and the column's type; `None` when the path does not parse.
    Path(Option<JsonPath>, String),
    /// The number of keys in the maps at these top-level fields (Secret and ConfigMap data)
    /// or of items in the list there (a ServiceAccount's secrets).
    Count(&'static [&'static str]),
    /// One of the real server's Event columns, by position in [`event_cells`].
    Event(usize),
}

struct Column {
    definition: Value,
    cell: Cell,
}

fn definition(name: &str, ty: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

fn name_column() -> Column {
    Column {
        definition: definition("Name", "string", "name", NAME_DESCRIPTION, 0),
        cell: Cell::Name,
    }
}

fn path_column(name: &str, path: &str, ty: &str, description: &str) -> Column {
    Column {
        definition: definition(name, ty, "", description, 0),
        cell: Cell::Path(JsonPath::parse(path).ok(), ty.to_string()),
    }
}

fn age_column() -> Column {
    path_column(
        "Age",
        ".metadata.creationTimestamp",
        "date",
        AGE_DESCRIPTION,
    )
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let mut out = vec![name_column()];
    if !rt.builtin {
        if rt.printer_columns.is_empty() {
            out.push(age_column());
        }
        for c in &rt.printer_columns {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            out.push(Column {
                definition: definition(
                    s("name"),
                    s("type"),
                    s("format"),
                    s("description"),
                    c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                ),
                cell: Cell::Path(JsonPath::parse(s("jsonPath")).ok(), s("type").to_string()),
            });
        }
        return out;
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "secrets") => {
            out.push(path_column(
                "Type",
                ".type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ));
            out.push(Column {
                definition: definition(
                    "Data",
                    "string",
                    "",
                    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
                    0,
                ),
                cell: Cell::Count(&["data"]),
            });
        }
        ("", "configmaps") => out.push(Column {
            definition: definition("Data", "string", "", "", 0),
            cell: Cell::Count(&["data", "binaryData"]),
        }),
        ("", "serviceaccounts") => out.push(Column {
            definition: definition("Secrets", "string", "", "", 0),
            cell: Cell::Count(&["secrets"]),
        }),
        ("", "namespaces") => out.push(path_column(
            "Status",
            ".status.phase",
            "string",
            "The status of the namespace",
        )),
        ("" | "events.k8s.io", "events") => return event_columns(),
        ("coordination.k8s.io", "leases") => out.push(path_column(
            "Holder",
            ".spec.holderIdentity",
            "string",
            "holderIdentity contains the identity of the holder of a current lease.",
        )),
        _ => {}
    }
    out.push(age_column());
    out
}

/// The real server's Event columns, for both Event APIs; kubectl shows the priority-0 ones.
fn event_columns() -> Vec<Column> {
    [
        ("Last Seen", "", 0, "The time at which the most recent occurrence of this event was recorded."),
        ("Type", "", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
        ("Reason", "", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        ("Object", "", 0, "The object that this event is about."),
        ("Subobject", "", 1, "The field path of the object this event is about, if any."),
        ("Source", "", 1, "The component reporting this event."),
        ("Message", "", 0, "A human-readable description of the status of this operation."),
        ("First Seen", "", 1, "The time at which the event was first recorded."),
        ("Count", "", 1, "The number of times this event has occurred."),
        ("Name", "name", 1, NAME_DESCRIPTION),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, format, priority, description))| Column {
        definition: definition(name, "string", format, description, priority),
        cell: Cell::Event(i),
    })
    .collect()
}

/// The cells the real server prints for an Event (in the core v1 shape): a `series` gives
/// the count and last-seen time, an Event without timestamps shows its `eventTime`.
fn event_cells(ev: &Value, now: Timestamp) -> [Value; 10] {
    let s = |p: &str| ev.pointer(p).and_then(Value::as_str).unwrap_or("");
    let first = if s("/firstTimestamp").is_empty() {
        age(s("/eventTime"), now)
    } else {
        age(s("/firstTimestamp"), now)
    };
    let mut last = if s("/lastTimestamp").is_empty() {
        first.clone()
    } else {
        age(s("/lastTimestamp"), now)
    };
    let mut count = ev.get("count").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = ev.get("series").filter(|v| v.is_object()) {
        last = age(s("/series/lastObservedTime"), now);
        count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = s("/involvedObject/kind").to_lowercase();
    let object = match s("/involvedObject/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let or = |a: &'static str, b: &'static str| {
        let a = s(a);
        if a.is_empty() { s(b) } else { a }
    };
    let component = or("/source/component", "/reportingComponent");
    let source = match or("/source/host", "/reportingInstance") {
        "" => component.to_string(),
        instance => format!("{component}, {instance}"),
    };
    [
        json!(last),
        json!(s("/type")),
        json!(s("/reason")),
        json!(object),
        json!(s("/involvedObject/fieldPath")),
        json!(source),
        json!(s("/message").trim()),
        json!(first),
        json!(count),
        json!(s("/metadata/name")),
    ]
}

/// The column definitions of `rt`'s tables.
pub fn column_definitions(rt: &ResourceType) -> Vec<Value> {
    columns(rt).into_iter().map(|c| c.definition).collect()
}

/// A Table of `objects` (as stored) with the given list metadata. Without `headers` the
/// column definitions are null, as in watch events after the first.
pub fn table(
    rt: &ResourceType,
    req: TableRequest,
    metadata: Value,
    objects: Vec<Value>,
    headers: bool,
    now: Timestamp,
) -> Value {
    let columns = columns(rt);
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| row(rt, &columns, req.include, o, now))
        .collect();
    let definitions = if headers {
        json!(
            columns
                .into_iter()
                .map(|c| c.definition)
                .collect::<Vec<_>>()
        )
    } else {
        Value::Null
    };
    json!({
        "kind": "Table",
        "apiVersion": req.api_version(),
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// A Table of one object, carrying that object's resourceVersion.
pub fn single(
    rt: &ResourceType,
    req: TableRequest,
    object: Value,
    headers: bool,
    now: Timestamp,
) -> Value {
    let rv = object
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    table(
        rt,
        req,
        json!({"resourceVersion": rv}),
        vec![object],
        headers,
        now,
    )
}

/// A Table with no rows, standing for a watch BOOKMARK.
pub fn bookmark(req: TableRequest, metadata: Value) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": req.api_version(),
        "metadata": metadata,
        "columnDefinitions": null,
        "rows": null,
    })
}

fn row(
    rt: &ResourceType,
    columns: &[Column],
    include: Include,
    obj: Value,
    now: Timestamp,
) -> Value {
    let obj = crate::http::present(rt, obj, false);
    let cells: Vec<Value> = columns.iter().map(|c| cell(&c.cell, &obj, now)).collect();
    let object = match include {
        Include::None => Value::Null,
        Include::Metadata => crate::http::present(rt, obj, true),
        Include::Object => obj,
    };
    json!({"cells": cells, "object": object})
}

fn cell(cell: &Cell, obj: &Value, now: Timestamp) -> Value {
    match cell {
        Cell::Name => obj.pointer("/metadata/name").cloned().unwrap_or(json!("")),
        Cell::Count(fields) => json!(
            fields
                .iter()
                .filter_map(|f| obj.get(*f))
                .map(|v| match v {
                    Value::Object(m) => m.len(),
                    Value::Array(a) => a.len(),
                    _ => 0,
                })
                .sum::<usize>()
        ),
        Cell::Event(i) => event_cells(&crate::events::to_core(obj.clone()), now)[*i].clone(),
        Cell::Path(None, _) => Value::Null,
        Cell::Path(Some(path), ty) => match path.find(obj).first() {
            None => Value::Null,
            Some(v) if ty == "string" => print_value(v),
            Some(v) => typed_value(ty, v, now),
        },
    }
}

/// A value as JSONPath prints it: strings bare, maps and arrays as compact JSON.
fn print_value(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => json!(s),
        other => json!(other.to_string()),
    }
}

/// A non-string column's cell: the value if it has the column's type, else null; dates as ages.
fn typed_value(ty: &str, v: &Value, now: Timestamp) -> Value {
    match (ty, v) {
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => json!(age(s, now)),
        _ => Value::Null,
    }
}

/// The age of an RFC 3339 time as the real server shows it; an empty time is `<unknown>`.
pub fn age(time: &str, now: Timestamp) -> String {
    if time.is_empty() || time == "null" {
        return "<unknown>".into();
    }
    match time.parse::<Timestamp>() {
        Ok(t) => human_duration(now.duration_since(t).as_secs()),
        Err(_) => "<invalid>".into(),
    }
}

/// A duration in the short form kubectl shows (`45s`, `5m10s`, `3h`, `2d4h`, `3y`). A time
/// more than a second ahead is `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{d}d")
        };
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_cells_prefer_the_series_and_fall_back_to_event_time() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let ev = json!({"metadata": {"name": "a.1"}, "type": "Normal", "reason": "R",
            "message": " m ", "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:55:00.000000Z"},
            "involvedObject": {"kind": "WetixCredential", "name": "shop"},
            "reportingComponent": "wetix", "reportingInstance": "pod-1"});
        let cells = event_cells(&ev, now);
        assert_eq!(cells[0], "5m");
        assert_eq!(cells[3], "wetixcredential/shop");
        assert_eq!(cells[5], "wetix, pod-1");
        assert_eq!(cells[6], "m");
        assert_eq!(cells[7], "60m");
        assert_eq!(cells[8], 3);
        let legacy = json!({"involvedObject": {"kind": "Pod"}, "source": {"component": "k"},
            "firstTimestamp": "2026-01-01T00:30:00Z"});
        let cells = event_cells(&legacy, now);
        assert_eq!(
            (&cells[0], &cells[3], &cells[5], &cells[8]),
            (&json!("30m"), &json!("pod"), &json!("k"), &json!(1))
        );
    }

    #[test]
    fn durations_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (310, "5m10s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (30 * 3600, "30h"),
            (52 * 3600, "2d4h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn ages_of_times() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(age("2024-05-01T11:55:00Z", now), "5m");
        assert_eq!(age("2024-05-01T13:00:00Z", now), "<invalid>");
        assert_eq!(age("", now), "<unknown>");
        assert_eq!(age("yesterday", now), "<invalid>");
    }

    #[test]
    fn cells_follow_column_types() {
        let now = Timestamp::now();
        assert_eq!(typed_value("integer", &json!(3.0), now), json!(3));
        assert_eq!(typed_value("integer", &json!("3"), now), Value::Null);
        assert_eq!(typed_value("number", &json!(2), now), json!(2.0));
        assert_eq!(typed_value("boolean", &json!(true), now), json!(true));
        assert_eq!(print_value(&json!({"a": 1})), json!("{\"a\":1}"));
        assert_eq!(print_value(&json!(7)), json!("7"));
        assert_eq!(print_value(&json!("x")), json!("x"));
    }
}
