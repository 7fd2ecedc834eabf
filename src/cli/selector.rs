//! The label selector of `run --credential-selector`, parsed as the API server parses a
//! `labelSelector` (apimachinery `labels.Parse`), so that a selector the server would refuse
//! stops the operator at start-up, naming the flag, instead of failing every list and watch.
//!
//! Pure: text in, a [`Selector`] or why not out. What is accepted:
//!
//! - `key=value`, `key==value`, `key!=value` (an empty value is allowed: `key=`);
//! - `key in (a,b)`, `key notin (a,b)` (an empty item is the empty value, as in `key in ()`);
//! - `key` (the label exists), `!key` (it does not);
//! - requirements joined by `,`, all of which must hold; spaces around tokens are ignored.
//!
//! Keys are qualified names and values label values, checked with the API server's rules
//! ([`crate::validate::qualified_name`], [`crate::validate::label_value`]). The API server's
//! `key>1` and `key<1` compare numbers; they are refused here, since a shard is picked by a
//! label's value, and kube's [`Selector`] has no such expression.

use std::collections::BTreeSet;

use kube::core::{Expression, Selector};

use crate::validate::{label_value, qualified_name};

/// Parses `text` as a label selector; an empty (or blank) text selects every credential.
/// The error says what is wrong and where, quoting the selector's own tokens.
pub fn parse(text: &str) -> Result<Selector, String> {
    let tokens = lex(text);
    let mut parser = Parser { tokens, at: 0 };
    let mut expressions = vec![];
    if parser.peek() == &Token::End {
        return Ok(Selector::default());
    }
    loop {
        expressions.push(parser.requirement()?);
        match parser.next() {
            Token::End => break,
            Token::Comma => {
                if !matches!(parser.peek(), Token::Word(_) | Token::Bang) {
                    return Err(format!(
                        "expected a requirement after ',', found {}",
                        parser.peek()
                    ));
                }
            }
            other => {
                return Err(format!(
                    "expected ',' or the end after a requirement, found {other}"
                ));
            }
        }
    }
    let mut selector = Selector::default();
    selector.extend(expressions);
    Ok(selector)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A key, a value, or the words `in` and `notin` (operators only after a key).
    Word(String),
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    Open,
    Close,
    Comma,
    End,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let symbol = match self {
            Token::Word(word) => return write!(f, "{word:?}"),
            Token::End => return f.write_str("the end"),
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::Greater => ">",
            Token::Less => "<",
            Token::Open => "(",
            Token::Close => ")",
            Token::Comma => ",",
        };
        write!(f, "'{symbol}'")
    }
}

/// The characters that end a word: apimachinery's special symbols and whitespace.
fn ends_word(c: char) -> bool {
    "=!(),<>".contains(c) || matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `text` into tokens as apimachinery's lexer does: a special symbol is the longest of
/// `==`, `!=` or one character; anything else up to a special symbol or whitespace is a word.
fn lex(text: &str) -> Vec<Token> {
    let mut tokens = vec![];
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            chars.next();
            continue;
        }
        if ends_word(c) {
            chars.next();
            let token = match (c, chars.peek()) {
                ('=', Some('=')) => Token::DoubleEquals,
                ('!', Some('=')) => Token::NotEquals,
                ('=', _) => Token::Equals,
                ('!', _) => Token::Bang,
                ('(', _) => Token::Open,
                (')', _) => Token::Close,
                (',', _) => Token::Comma,
                ('>', _) => Token::Greater,
                _ => Token::Less,
            };
            if matches!(token, Token::DoubleEquals | Token::NotEquals) {
                chars.next();
            }
            tokens.push(token);
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if ends_word(c) {
                break;
            }
            word.push(c);
            chars.next();
        }
        tokens.push(Token::Word(word));
    }
    tokens.push(Token::End);
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.at).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        self.at = self.at.saturating_add(1);
        token
    }

    /// `[!]key`, `key OP value` or `key in|notin (values)`.
    fn requirement(&mut self) -> Result<Expression, String> {
        let negated = self.peek() == &Token::Bang;
        if negated {
            self.next();
        }
        let key = match self.next() {
            Token::Word(key) => key,
            other => return Err(format!("expected a label key, found {other}")),
        };
        qualified_name(&key).map_err(|why| format!("{key:?} is not a valid label key: {why}"))?;
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(if negated {
                Expression::DoesNotExist(key)
            } else {
                Expression::Exists(key)
            });
        }
        if negated {
            return Err(format!(
                "'!{key}' takes no operator or value, found {}",
                self.peek()
            ));
        }
        match self.next() {
            Token::Equals | Token::DoubleEquals => {
                Ok(Expression::Equal(key.clone(), self.exact_value(&key)?))
            }
            Token::NotEquals => Ok(Expression::NotEqual(key.clone(), self.exact_value(&key)?)),
            Token::Word(word) if word == "in" => Ok(Expression::In(key.clone(), self.set(&key)?)),
            Token::Word(word) if word == "notin" => {
                Ok(Expression::NotIn(key.clone(), self.set(&key)?))
            }
            Token::Greater | Token::Less => Err(format!(
                "'{key}>' and '{key}<' compare numbers and are not supported here; \
                 use =, !=, in or notin"
            )),
            other => Err(format!(
                "after {key:?}, expected =, ==, !=, in, notin, ',' or the end, found {other}"
            )),
        }
    }

    /// The value after `=`, `==` or `!=`: a word, or nothing (the empty value).
    fn exact_value(&mut self, key: &str) -> Result<String, String> {
        let value = match self.peek() {
            Token::End | Token::Comma => String::new(),
            Token::Word(value) => {
                let value = value.clone();
                self.next();
                value
            }
            other => return Err(format!("expected a value for {key:?}, found {other}")),
        };
        valid_value(key, &value)?;
        Ok(value)
    }

    /// `(a,b,...)`; an empty item is the empty value, so `()` is the set of it alone.
    fn set(&mut self, key: &str) -> Result<BTreeSet<String>, String> {
        match self.next() {
            Token::Open => {}
            other => {
                return Err(format!(
                    "expected '(' after {key:?} in/notin, found {other}"
                ));
            }
        }
        let mut values = BTreeSet::new();
        let mut item = String::new();
        loop {
            match self.next() {
                Token::Word(word) if item.is_empty() => item = word,
                Token::Comma => {
                    valid_value(key, &item)?;
                    values.insert(std::mem::take(&mut item));
                }
                Token::Close => {
                    valid_value(key, &item)?;
                    values.insert(item);
                    return Ok(values);
                }
                other => {
                    return Err(format!(
                        "expected a value, ',' or ')' in the values of {key:?}, found {other}"
                    ));
                }
            }
        }
    }
}

fn valid_value(key: &str, value: &str) -> Result<(), String> {
    label_value(value).map_err(|why| format!("{value:?} is not a valid value for {key:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kube::core::SelectorExt;

    use super::*;

    /// What the API server receives: the selector as kube renders it.
    fn rendered(text: &str) -> Result<String, String> {
        parse(text).map(|s| s.to_string())
    }

    #[test]
    fn every_form_apimachinery_accepts_parses_and_renders_for_the_api_server() {
        let cases = [
            ("", ""),
            ("   ", ""),
            ("shard=a", "shard=a"),
            ("shard = a", "shard=a"),
            ("shard==a", "shard=a"),
            ("shard!=a", "shard!=a"),
            ("shard=", "shard="),
            ("shard", "shard"),
            ("!shard", "!shard"),
            ("! shard", "!shard"),
            ("shard in (a,b)", "shard in (a,b)"),
            ("shard in ( b , a )", "shard in (a,b)"),
            ("shard notin (c)", "shard notin (c)"),
            ("shard in ()", "shard in ()"),
            ("shard in (a,,b)", "shard in (,a,b)"),
            ("shard in (a,)", "shard in (,a)"),
            ("in in (in,notin)", "in in (in,notin)"),
            (
                "wetix.my/shard=a,tier!=test,!legacy,team",
                "wetix.my/shard=a,tier!=test,!legacy,team",
            ),
            ("a=1,\tb in (x)\n", "a=1,b in (x)"),
        ];
        for (text, want) in cases {
            assert_eq!(rendered(text).as_deref(), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn what_apimachinery_refuses_is_refused_with_the_reason() {
        let cases = [
            ("=a", "expected a label key, found '='"),
            (",shard=a", "expected a label key, found ','"),
            (
                "shard=a,",
                "expected a requirement after ',', found the end",
            ),
            ("shard=a,,b", "expected a requirement after ',', found ','"),
            (
                "shard=a b",
                "expected ',' or the end after a requirement, found \"b\"",
            ),
            ("shard=(a)", "expected a value for \"shard\", found '('"),
            (
                "shard in a",
                "expected '(' after \"shard\" in/notin, found \"a\"",
            ),
            ("shard in (a b)", "in the values of \"shard\", found \"b\""),
            ("shard in (a", "in the values of \"shard\", found the end"),
            (
                "shard ~ a",
                "after \"shard\", expected =, ==, !=, in, notin",
            ),
            ("!shard=a", "'!shard' takes no operator or value, found '='"),
            ("shard>1", "compare numbers and are not supported"),
            ("shard<1", "compare numbers and are not supported"),
            ("Shard_=a", "\"Shard_\" is not a valid label key"),
            ("-shard", "\"-shard\" is not a valid label key"),
            ("a/b/c=x", "\"a/b/c\" is not a valid label key"),
            ("Bad.Prefix/shard=a", "is not a valid label key: the prefix"),
            ("shard=a_", "\"a_\" is not a valid value for \"shard\""),
            (
                "shard in (a,-b)",
                "\"-b\" is not a valid value for \"shard\"",
            ),
            ("shard=é", "is not a valid value for \"shard\""),
        ];
        for (text, want) in cases {
            let got = parse(text).expect_err(text);
            assert!(got.contains(want), "{text:?}: {got}");
        }
        let long_key = format!("{}=a", "k".repeat(64));
        assert!(parse(&long_key).unwrap_err().contains("at most 63"));
        let long_value = format!("shard={}", "v".repeat(64));
        assert!(parse(&long_value).unwrap_err().contains("at most 63"));
        assert!(parse(&format!("shard={}", "v".repeat(63))).is_ok());
    }

    #[test]
    fn the_parsed_selector_picks_what_the_api_server_would() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let none = labels(&[]);
        let a = labels(&[("shard", "a")]);
        let b = labels(&[("shard", "b")]);
        let blank = labels(&[("shard", "")]);
        // (selector, [none, a, b, blank]): notin and != also pick credentials without the label.
        let cases = [
            ("shard=a", [false, true, false, false]),
            ("shard!=a", [true, false, true, true]),
            ("shard in (a,b)", [false, true, true, false]),
            ("shard notin (a)", [true, false, true, true]),
            ("shard", [false, true, true, true]),
            ("!shard", [true, false, false, false]),
            ("shard=", [false, false, false, true]),
            ("shard in ()", [false, false, false, true]),
            ("", [true, true, true, true]),
        ];
        for (text, want) in cases {
            let selector = parse(text).unwrap();
            let got = [&none, &a, &b, &blank].map(|l| selector.matches(l));
            assert_eq!(got, want, "{text:?}");
        }
    }
}
