//! The subset of Kubernetes JSONPath used by CRD `additionalPrinterColumns`: fields
//! (`.a.b`, `['a.b']`), indexes (`[0]`, `[-1]`), wildcards (`[*]`, `.*`) and filters
//! (`[?(@.type=="Ready")]`, `[?(@.x)]`). Missing keys give no result rather than an error.

use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<Step>,
    /// `None` tests that the path exists.
    compare: Option<(Op, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// Parses `path`, with or without the surrounding `{}` and leading `$`.
    pub fn parse(path: &str) -> Result<JsonPath, String> {
        let mut s = path.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let mut p = Parser { s, pos: 0 };
        let steps = p.steps(false)?;
        if p.pos != p.s.len() {
            return Err(format!("unexpected {:?} in {path:?}", &p.s[p.pos..]));
        }
        Ok(JsonPath(steps))
    }

    /// Every value the path reaches in `root`, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        walk(&self.0, vec![root])
    }
}

fn walk<'a>(steps: &[Step], mut current: Vec<&'a Value>) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Field(f), Value::Object(m)) => next.extend(m.get(f)),
                (Step::Index(i), Value::Array(a)) => {
                    let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                    if idx >= 0 {
                        next.extend(a.get(idx as usize));
                    }
                }
                (Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                (Step::Wildcard, Value::Object(m)) => next.extend(m.values()),
                (Step::Filter(f), Value::Array(a)) => {
                    next.extend(a.iter().filter(|item| f.accepts(item)));
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

impl Filter {
    fn accepts(&self, item: &Value) -> bool {
        let found = walk(&self.path, vec![item]);
        match &self.compare {
            None => !found.is_empty(),
            Some((op, want)) => found.iter().any(|got| compare(got, *op, want)),
        }
    }
}

fn compare(got: &Value, op: Op, want: &Value) -> bool {
    let ord = match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn eat(&mut self, prefix: &str) -> bool {
        if self.rest().starts_with(prefix) {
            self.pos += prefix.len();
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.rest().starts_with(' ') {
            self.pos += 1;
        }
    }

    /// Steps up to the end, or inside a filter up to its comparison operator or `)`.
    fn steps(&mut self, in_filter: bool) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            let rest = self.rest();
            if rest.is_empty() || (in_filter && rest.starts_with([' ', ')', '=', '!', '<', '>'])) {
                return Ok(steps);
            }
            if self.eat("..") {
                return Err("recursive descent is not supported".into());
            } else if self.eat(".") {
                if self.eat("*") {
                    steps.push(Step::Wildcard);
                } else {
                    let name = self.name();
                    if name.is_empty() {
                        return Err(format!("expected a field name at {:?}", self.rest()));
                    }
                    steps.push(Step::Field(name));
                }
            } else if self.eat("[") {
                steps.push(self.bracket()?);
            } else if steps.is_empty() && !in_filter {
                // A path may start without its leading dot, as in `metadata.name`.
                let name = self.name();
                if name.is_empty() {
                    return Err(format!("unexpected {:?}", self.rest()));
                }
                steps.push(Step::Field(name));
            } else {
                return Err(format!("unexpected {:?}", self.rest()));
            }
        }
    }

    fn name(&mut self) -> String {
        let end = self
            .rest()
            .find(['.', '[', ' ', ')', '=', '!', '<', '>'])
            .unwrap_or(self.rest().len());
        let name = self.rest()[..end].to_string();
        self.pos += end;
        name
    }

    /// After `[`: an index, `*`, a quoted field name or a filter, through the closing `]`.
    fn bracket(&mut self) -> Result<Step, String> {
        let step = if self.eat("*") {
            Step::Wildcard
        } else if self.eat("?(") {
            self.skip_spaces();
            if !self.eat("@") {
                return Err("a filter must start with @".into());
            }
            let path = self.steps(true)?;
            self.skip_spaces();
            let op = [
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("<", Op::Lt),
                (">", Op::Gt),
            ]
            .into_iter()
            .find(|(text, _)| self.eat(text))
            .map(|(_, op)| op);
            let compare = match op {
                Some(op) => {
                    self.skip_spaces();
                    Some((op, self.literal()?))
                }
                None => None,
            };
            self.skip_spaces();
            if !self.eat(")") {
                return Err(format!("expected ) at {:?}", self.rest()));
            }
            Step::Filter(Filter { path, compare })
        } else if self.rest().starts_with(['\'', '"']) {
            match self.literal()? {
                Value::String(s) => Step::Field(s),
                _ => unreachable!("a quoted literal is a string"),
            }
        } else {
            let end = self.rest().find(']').ok_or("unterminated [")?;
            let text = self.rest()[..end].trim().to_string();
            self.pos += end;
            Step::Index(
                text.parse()
                    .map_err(|_| format!("invalid array index {text:?}"))?,
            )
        };
        if !self.eat("]") {
            return Err(format!("expected ] at {:?}", self.rest()));
        }
        Ok(step)
    }

    /// A quoted string, number, `true`, `false` or `null`.
    fn literal(&mut self) -> Result<Value, String> {
        let rest = self.rest();
        if let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let end = rest[1..]
                .find(quote)
                .ok_or_else(|| format!("unterminated string {rest:?}"))?;
            let text = rest[1..1 + end].to_string();
            self.pos += end + 2;
            return Ok(Value::String(text));
        }
        let end = rest.find([')', ']', ' ']).unwrap_or(rest.len());
        let text = &rest[..end];
        let value =
            serde_json::from_str::<Value>(text).map_err(|_| format!("invalid literal {text:?}"))?;
        self.pos += end;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn fields_indexes_wildcards_and_filters() {
        let obj = json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
            "status": {"conditions": [
                {"type": "Synced", "status": "False", "n": 1},
                {"type": "Ready", "status": "True", "reason": "Fresh", "n": 2}
            ]}
        });
        assert_eq!(find(".metadata.name", &obj), [json!("a")]);
        assert_eq!(find("{.metadata.name}", &obj), [json!("a")]);
        assert_eq!(find("$.metadata.name", &obj), [json!("a")]);
        assert_eq!(find("metadata.name", &obj), [json!("a")]);
        assert_eq!(
            find(".metadata.labels['app.kubernetes.io/name']", &obj),
            [json!("x")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#, &obj),
            [json!("True")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type == 'Ready')].reason", &obj),
            [json!("Fresh")]
        );
        assert_eq!(
            find(".status.conditions[?(@.n > 1)].type", &obj),
            [json!("Ready")]
        );
        assert_eq!(
            find(".status.conditions[?(@.reason)].type", &obj),
            [json!("Ready")]
        );
        assert_eq!(
            find(".status.conditions[*].type", &obj),
            [json!("Synced"), json!("Ready")]
        );
        assert_eq!(find(".status.conditions[-1].type", &obj), [json!("Ready")]);
        assert!(find(".status.missing.deeper", &obj).is_empty());
        assert!(find(r#".status.conditions[?(@.type=="Gone")].status"#, &obj).is_empty());
        assert!(find(".status.conditions[5]", &obj).is_empty());
    }

    #[test]
    fn malformed_paths_are_errors() {
        for bad in [".a[", ".a[x]", ".a[?(@.b==)]", ".a..b", ".a[?(b)]"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
