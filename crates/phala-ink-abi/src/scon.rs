//! The value syntax users type after `--args` (cargo-contract's SCON), parsed without types.
//!
//! Parsing is separate from encoding because the same text means different bytes for
//! different types (`0x01` is a `Vec<u8>` or an account; `Foo` is an enum variant, a unit
//! struct or an unquoted string), so the parser only builds a small tree ([`Scon`]) and the
//! codec interprets it against the type registry.
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! value  := string | number | hex | word [ '(' values ')' | '{' fields '}' ]
//!         | '[' values ']' | '(' values ')' | '{' fields '}'
//! values := [ value { ',' value } [ ',' ] ]
//! fields := [ key ':' value { ',' key ':' value } [ ',' ] ]
//! number := [ '-' ] digit { digit | '_' }
//! hex    := '0x' { hexdigit | '_' }
//! word   := { letter | digit | '_' | '::' }        (identifiers, SS58 addresses)
//! string := '"' { char | escape } '"'             (escapes: \" \\ \n \r \t \0 \' \u{…})
//! ```
//!
//! Nesting is bounded by [`MAX_DEPTH`]; no input panics.

/// How deeply values may nest, in the parser and in the codec.
pub(crate) const MAX_DEPTH: usize = 64;

/// A parsed value, not yet tied to a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scon {
    /// An integer: `digits` has the underscores removed; `text` is as typed.
    Int {
        negative: bool,
        digits: String,
        text: String,
    },
    /// `0x…`: the hex digits after `0x`, underscores removed (not yet checked to be even).
    Hex(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// A bare word: `true`, `None`, `Variant`, an SS58 address, `Path::Name`.
    Word(String),
    /// `[a, b]`
    Seq(Vec<Scon>),
    /// `(a, b)`
    Tuple(Vec<Scon>),
    /// `{ a: x, b: y }`
    Map(Vec<(String, Scon)>),
    /// `Name(…)` or `Name { … }`: the body is a [`Scon::Tuple`] or a [`Scon::Map`].
    Named(String, Box<Scon>),
}

impl Scon {
    /// A short rendering for error messages.
    pub(crate) fn describe(&self) -> String {
        fn clip(s: &str) -> String {
            let mut out: String = s.chars().take(48).collect();
            if s.chars().nth(48).is_some() {
                out.push('…');
            }
            out
        }
        match self {
            Scon::Int { text, .. } => format!("`{}`", clip(text)),
            Scon::Hex(h) => format!("`0x{}`", clip(h)),
            Scon::Str(s) => format!("the string {:?}", clip(s)),
            Scon::Word(w) => format!("`{}`", clip(w)),
            Scon::Seq(items) => format!("a list of {} item(s)", items.len()),
            Scon::Tuple(items) => format!("a tuple of {} item(s)", items.len()),
            Scon::Map(_) => "a struct `{ … }`".to_string(),
            Scon::Named(name, body) => match body.as_ref() {
                Scon::Map(_) => format!("`{} {{ … }}`", clip(name)),
                _ => format!("`{}(…)`", clip(name)),
            },
        }
    }
}

/// Parses one complete value; trailing text is an error.
pub(crate) fn parse(text: &str) -> Result<Scon, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err("the value is empty".to_string());
    }
    let value = p.value(0)?;
    p.skip_ws();
    match p.peek() {
        None => Ok(value),
        Some(c) => Err(format!(
            "unexpected `{c}` at character {} after a complete value",
            p.position()
        )),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos.checked_add(ahead)?).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    /// 1-based character position, for messages.
    fn position(&self) -> usize {
        self.pos.saturating_add(1)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        match self.peek() {
            Some(c) => format!(
                "expected {expected} at character {}, found `{c}`",
                self.position()
            ),
            None => format!("expected {expected}, but the value ended"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Scon, String> {
        if depth >= MAX_DEPTH {
            return Err(format!("the value nests deeper than {MAX_DEPTH} levels"));
        }
        let inner = depth.saturating_add(1);
        self.skip_ws();
        match self.peek() {
            None => Err("expected a value, but the input ended".to_string()),
            Some('"') => self.string().map(Scon::Str),
            Some('[') => self.list(']', inner).map(Scon::Seq),
            Some('(') => self.list(')', inner).map(Scon::Tuple),
            Some('{') => self.fields(inner).map(Scon::Map),
            Some('-') => self.negative(),
            Some(c) if is_word_char(c) => self.word_value(inner),
            Some(_) => Err(self.unexpected("a value")),
        }
    }

    fn negative(&mut self) -> Result<Scon, String> {
        self.bump();
        let word = self.word();
        let digits: String = word.chars().filter(|c| *c != '_').collect();
        if word.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            Ok(Scon::Int {
                negative: true,
                digits,
                text: format!("-{word}"),
            })
        } else {
            Err(format!("`-{word}` is not a number"))
        }
    }

    /// A run of word characters, with `::` allowed between segments.
    fn word(&mut self) -> String {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some(c) if is_word_char(c) => {
                    out.push(c);
                    self.bump();
                }
                Some(':')
                    if !out.is_empty()
                        && self.peek_at(1) == Some(':')
                        && self.peek_at(2).is_some_and(is_word_char) =>
                {
                    out.push_str("::");
                    self.bump();
                    self.bump();
                }
                _ => return out,
            }
        }
    }

    fn word_value(&mut self, depth: usize) -> Result<Scon, String> {
        let word = self.word();
        if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
            let hex: String = hex.chars().filter(|c| *c != '_').collect();
            if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("`{word}` is not valid hex"));
            }
            return Ok(Scon::Hex(hex));
        }
        if word.starts_with(|c: char| c.is_ascii_digit())
            && word.chars().all(|c| c.is_ascii_digit() || c == '_')
        {
            return Ok(Scon::Int {
                negative: false,
                digits: word.chars().filter(|c| *c != '_').collect(),
                text: word,
            });
        }
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                let items = self.list(')', depth)?;
                Ok(Scon::Named(word, Box::new(Scon::Tuple(items))))
            }
            Some('{') => {
                let fields = self.fields(depth)?;
                Ok(Scon::Named(word, Box::new(Scon::Map(fields))))
            }
            _ => Ok(Scon::Word(word)),
        }
    }

    /// `open values close`, the opening bracket at the cursor.
    fn list(&mut self, close: char, depth: usize) -> Result<Vec<Scon>, String> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.bump();
                return Ok(items);
            }
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.bump(),
                Some(c) if c == close => {}
                _ => return Err(self.unexpected(&format!("`,` or `{close}`"))),
            }
        }
    }

    /// `{ key: value, … }`, the brace at the cursor.
    fn fields(&mut self, depth: usize) -> Result<Vec<(String, Scon)>, String> {
        self.bump();
        let mut fields = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(fields);
            }
            let key = match self.peek() {
                Some('"') => self.string()?,
                Some(c) if is_word_char(c) => self.word(),
                _ => return Err(self.unexpected("a field name")),
            };
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.unexpected(&format!("`:` after field `{key}`")));
            }
            self.bump();
            let value = self.value(depth)?;
            fields.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.bump(),
                Some('}') => {}
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    /// A double-quoted string, the quote at the cursor.
    fn string(&mut self) -> Result<String, String> {
        let start = self.position();
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!(
                    "the string starting at character {start} has no closing `\"`"
                ));
            };
            self.bump();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err("the string ends in a lone `\\`".to_string());
                    };
                    self.bump();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '\'' => out.push('\''),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'u' => out.push(self.unicode_escape()?),
                        other => return Err(format!("`\\{other}` is not a string escape")),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// The `{XXXX}` after `\u`.
    fn unicode_escape(&mut self) -> Result<char, String> {
        if self.peek() != Some('{') {
            return Err("`\\u` must be followed by `{hex}`".to_string());
        }
        self.bump();
        let mut hex = String::new();
        while let Some(c) = self.peek() {
            self.bump();
            if c == '}' {
                return u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() <= 6)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("`\\u{{{hex}}}` is not a unicode character"));
            }
            hex.push(c);
        }
        Err("`\\u{` has no closing `}`".to_string())
    }
}
