//! The XML of XML-RPC: writing `methodCall` / `methodResponse` documents and reading them back
//! with `quick-xml`. No DTD is accepted and no entity is expanded beyond the five predefined
//! ones and character references; nesting is limited.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::{Fault, Value, XmlError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// ------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------

fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            // A raw CR would become LF in the peer's parser.
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Appends `<value>...</value>`.
pub(crate) fn write_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Int(i) => {
            let _ = write!(out, "<int>{i}</int>");
        }
        Value::I8(i) => {
            let _ = write!(out, "<i8>{i}</i8>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Value::String(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => {
            // Python writes repr(float) and reads float(text): `inf`, `nan`, `1e+300`,
            // `0.1` all pass; Rust's `{:?}` keeps the shortest round-trip form.
            let text = if d.is_nan() {
                "nan".to_string()
            } else if d.is_infinite() {
                if *d > 0.0 { "inf" } else { "-inf" }.to_string()
            } else {
                format!("{d:?}")
            };
            let _ = write!(out, "<double>{text}</double>");
        }
        Value::DateTime(t) => {
            let _ = write!(out, "<dateTime.iso8601>{t}</dateTime.iso8601>");
        }
        Value::Base64(b) => {
            out.push_str("<base64>");
            B64.encode_string(b, out);
            out.push_str("</base64>");
        }
        Value::Struct(m) => {
            out.push_str("<struct>");
            for (k, v) in m {
                out.push_str("<member><name>");
                escape_into(out, k);
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(a) => {
            out.push_str("<array><data>");
            for v in a {
                write_value(out, v);
            }
            out.push_str("</data></array>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// A `methodCall` document.
pub(crate) fn call(method: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(128 + params.len() * 32);
    out.push_str("<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>");
        write_value(&mut out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// A `methodResponse` document: one value, or a fault.
pub(crate) fn response(result: &Result<Value, Fault>) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("<?xml version=\"1.0\"?>\n<methodResponse>\n");
    match result {
        Ok(v) => {
            out.push_str("<params>\n<param>\n");
            write_value(&mut out, v);
            out.push_str("\n</param>\n</params>\n");
        }
        Err(f) => {
            out.push_str("<fault>\n");
            write_value(&mut out, &fault_value(f));
            out.push_str("\n</fault>\n");
        }
    }
    out.push_str("</methodResponse>\n");
    out
}

/// A fault as the `{faultCode, faultString}` struct.
pub(crate) fn fault_value(f: &Fault) -> Value {
    let mut m = BTreeMap::new();
    m.insert("faultCode".to_string(), Value::Int(f.code));
    m.insert("faultString".to_string(), Value::String(f.string.clone()));
    Value::Struct(m)
}

/// The fault inside a `{faultCode, faultString}` struct.
pub(crate) fn value_fault(v: &Value) -> Option<Fault> {
    let m = v.as_struct()?;
    let code = m.get("faultCode")?.as_i64()?;
    let string = match m.get("faultString")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(Fault::new(i32::try_from(code).ok()?, string))
}

// ------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------

type R<T> = Result<T, XmlError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(XmlError::new(msg))
}

/// An element's local name, without any namespace prefix (`ex:nil` is `nil`, as Python reads
/// it).
fn local(e: &BytesStart<'_>) -> Vec<u8> {
    e.local_name().as_ref().to_vec()
}

enum Tok {
    Start(Vec<u8>),
    Empty(Vec<u8>),
    End(Vec<u8>),
    /// Character data: text, CDATA or a resolved reference.
    Text(String),
    Eof,
}

struct Parser<'a> {
    r: Reader<&'a [u8]>,
    depth: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn new(doc: &'a [u8], max_depth: usize) -> Self {
        let mut r = Reader::from_reader(doc);
        let c = r.config_mut();
        c.trim_text(false);
        c.check_end_names = true;
        c.expand_empty_elements = false;
        Parser {
            r,
            depth: 0,
            max_depth,
        }
    }

    fn pos(&self) -> u64 {
        self.r.buffer_position()
    }

    /// The next token; comments, processing instructions and the XML declaration are skipped,
    /// a DTD is refused.
    fn tok(&mut self) -> R<Tok> {
        loop {
            let ev = self.r.read_event().map_err(|e| {
                XmlError::with_source(format!("not well-formed (at byte {})", self.pos()), e)
            })?;
            return Ok(match ev {
                Event::Start(e) => Tok::Start(local(&e)),
                Event::Empty(e) => Tok::Empty(local(&e)),
                Event::End(e) => Tok::End(e.local_name().as_ref().to_vec()),
                // XML 1.0 line ends, as expat reads them: U+0085 and U+2028 stay as they are.
                Event::Text(t) => Tok::Text(
                    t.xml10_content()
                        .map_err(|e| XmlError::with_source("bad text", e))?
                        .into_owned(),
                ),
                Event::CData(t) => Tok::Text(
                    t.decode()
                        .map_err(|e| XmlError::with_source("bad text", e))?
                        .into_owned(),
                ),
                Event::GeneralRef(r) => {
                    if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|e| XmlError::with_source("bad character reference", e))?
                    {
                        Tok::Text(c.to_string())
                    } else {
                        let name = r
                            .decode()
                            .map_err(|e| XmlError::with_source("bad reference", e))?;
                        Tok::Text(
                            match name.as_ref() {
                                "lt" => "<",
                                "gt" => ">",
                                "amp" => "&",
                                "apos" => "'",
                                "quot" => "\"",
                                other => return err(format!("undefined entity &{other};")),
                            }
                            .to_string(),
                        )
                    }
                }
                Event::DocType(_) => return err("a DTD is not allowed"),
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => continue,
                Event::Eof => Tok::Eof,
            });
        }
    }

    /// The next token that is not white space.
    fn tok_nonblank(&mut self) -> R<Tok> {
        loop {
            match self.tok()? {
                Tok::Text(t) if t.trim().is_empty() => continue,
                Tok::Text(t) => return err(format!("unexpected text {:?}", short(&t))),
                other => return Ok(other),
            }
        }
    }

    /// Expects `<name>`; returns false if it was `<name/>`.
    fn open(&mut self, name: &[u8]) -> R<bool> {
        match self.tok_nonblank()? {
            Tok::Start(n) if n == name => Ok(true),
            Tok::Empty(n) if n == name => Ok(false),
            other => err(format!(
                "expected <{}>, found {}",
                s(name),
                describe(&other)
            )),
        }
    }

    fn close(&mut self, name: &[u8]) -> R<()> {
        match self.tok_nonblank()? {
            Tok::End(n) if n == name => Ok(()),
            other => err(format!(
                "expected </{}>, found {}",
                s(name),
                describe(&other)
            )),
        }
    }

    /// Character data up to `</name>`.
    fn text_until(&mut self, name: &[u8]) -> R<String> {
        let mut out = String::new();
        loop {
            match self.tok()? {
                Tok::Text(t) => out.push_str(&t),
                Tok::End(n) if n == name => return Ok(out),
                other => {
                    return err(format!(
                        "expected text in <{}>, found {}",
                        s(name),
                        describe(&other)
                    ));
                }
            }
        }
    }

    /// A value whose `<value>` start (or `<value/>`) has just been read.
    fn value_body(&mut self, form: Form) -> R<Value> {
        if form == Form::SelfClosed {
            return Ok(Value::String(String::new()));
        }
        let mut text = String::new();
        loop {
            match self.tok()? {
                Tok::Text(t) => text.push_str(&t),
                Tok::End(n) if n == b"value" => return Ok(Value::String(text)),
                Tok::Start(ty) => {
                    if !text.trim().is_empty() {
                        return err("text beside a typed value");
                    }
                    let v = self.typed(&ty, Form::Open)?;
                    self.close(b"value")?;
                    return Ok(v);
                }
                Tok::Empty(ty) => {
                    if !text.trim().is_empty() {
                        return err("text beside a typed value");
                    }
                    let v = self.typed(&ty, Form::SelfClosed)?;
                    self.close(b"value")?;
                    return Ok(v);
                }
                other => return err(format!("unexpected {} in <value>", describe(&other))),
            }
        }
    }

    fn value(&mut self) -> R<Value> {
        let form = if self.open(b"value")? {
            Form::Open
        } else {
            Form::SelfClosed
        };
        self.value_body(form)
    }

    /// A typed value whose start tag `<ty>` (or `<ty/>`) has just been read, up to its end.
    fn typed(&mut self, ty: &[u8], form: Form) -> R<Value> {
        match ty {
            b"array" => self.array(form),
            b"struct" => self.structure(form),
            b"nil" => {
                if form == Form::Open {
                    self.text_until(ty)?;
                }
                Ok(Value::Nil)
            }
            _ => {
                let text = match form {
                    Form::Open => self.text_until(ty)?,
                    Form::SelfClosed => String::new(),
                };
                scalar(ty, text)
            }
        }
    }

    /// `<array>`: `<data>` and its values, up to `</array>`.
    fn array(&mut self, form: Form) -> R<Value> {
        self.enter()?;
        let mut items = Vec::new();
        if form == Form::Open {
            if self.open(b"data")? {
                loop {
                    match self.tok_nonblank()? {
                        Tok::Start(n) if n == b"value" => items.push(self.value_body(Form::Open)?),
                        Tok::Empty(n) if n == b"value" => {
                            items.push(self.value_body(Form::SelfClosed)?)
                        }
                        Tok::End(n) if n == b"data" => break,
                        other => return err(format!("unexpected {} in <data>", describe(&other))),
                    }
                }
            }
            self.close(b"array")?;
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// `<struct>`: its members, up to `</struct>`.
    fn structure(&mut self, form: Form) -> R<Value> {
        self.enter()?;
        let mut m = BTreeMap::new();
        if form == Form::Open {
            loop {
                match self.tok_nonblank()? {
                    Tok::Start(n) if n == b"member" => {
                        let name = if self.open(b"name")? {
                            self.text_until(b"name")?
                        } else {
                            String::new()
                        };
                        let v = self.value()?;
                        self.close(b"member")?;
                        m.insert(name, v);
                    }
                    Tok::End(n) if n == b"struct" => break,
                    other => return err(format!("unexpected {} in <struct>", describe(&other))),
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Struct(m))
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return err(format!("nesting deeper than {} levels", self.max_depth));
        }
        Ok(())
    }

    /// `<params>` (already opened, with a body): the values of its `<param>`s.
    fn params(&mut self) -> R<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            match self.tok_nonblank()? {
                Tok::Start(n) if n == b"param" => {
                    out.push(self.value()?);
                    self.close(b"param")?;
                }
                Tok::End(n) if n == b"params" => return Ok(out),
                other => return err(format!("unexpected {} in <params>", describe(&other))),
            }
        }
    }

    fn end_of_document(&mut self) -> R<()> {
        match self.tok_nonblank()? {
            Tok::Eof => Ok(()),
            other => err(format!("junk after document element: {}", describe(&other))),
        }
    }
}

/// Whether an element came as `<x>...</x>` or as `<x/>`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Open,
    SelfClosed,
}

/// A value of scalar type `ty` from its text.
fn scalar(ty: &[u8], text: String) -> R<Value> {
    match ty {
        b"int" | b"i4" | b"i8" | b"i1" | b"i2" | b"biginteger" => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|e| XmlError::with_source(format!("bad integer {:?}", short(&text)), e))?;
            Ok(match i32::try_from(n) {
                Ok(i) if ty != b"i8" => Value::Int(i),
                _ => Value::I8(n),
            })
        }
        b"boolean" => match text.trim() {
            "0" => Ok(Value::Bool(false)),
            "1" => Ok(Value::Bool(true)),
            other => err(format!("bad boolean value {:?}", short(other))),
        },
        b"string" => Ok(Value::String(text)),
        b"double" | b"float" | b"bigdecimal" => double(&text).map(Value::Double),
        b"dateTime.iso8601" => text
            .parse()
            .map(Value::DateTime)
            .map_err(|e| XmlError::with_source("bad dateTime.iso8601", e)),
        b"base64" => {
            let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            B64.decode(&clean)
                .map(Value::Base64)
                .map_err(|e| XmlError::with_source("bad base64", e))
        }
        other => err(format!("unknown type tag <{}>", s(other))),
    }
}

/// A double as Python's `float()` reads it: `inf`, `nan` and the usual forms.
fn double(text: &str) -> R<f64> {
    let t = text.trim();
    Ok(match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        "nan" | "+nan" | "-nan" => f64::NAN,
        _ => t
            .parse()
            .map_err(|e| XmlError::with_source(format!("bad double {:?}", short(t)), e))?,
    })
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn short(t: &str) -> &str {
    match t.char_indices().nth(40) {
        Some((i, _)) => &t[..i],
        None => t,
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Start(n) => format!("<{}>", s(n)),
        Tok::Empty(n) => format!("<{}/>", s(n)),
        Tok::End(n) => format!("</{}>", s(n)),
        Tok::Text(t) => format!("text {:?}", short(t)),
        Tok::Eof => "end of document".into(),
    }
}

/// Reads a `methodCall`: the method name and the parameters.
pub(crate) fn parse_call(doc: &[u8], max_depth: usize) -> R<(String, Vec<Value>)> {
    let mut p = Parser::new(doc, max_depth);
    if !p.open(b"methodCall")? {
        return err("empty <methodCall/>");
    }
    if !p.open(b"methodName")? {
        return err("empty <methodName/>");
    }
    let name = p.text_until(b"methodName")?.trim().to_string();
    let params = match p.tok_nonblank()? {
        Tok::Start(n) if n == b"params" => {
            let v = p.params()?;
            p.close(b"methodCall")?;
            v
        }
        Tok::Empty(n) if n == b"params" => {
            p.close(b"methodCall")?;
            Vec::new()
        }
        Tok::End(n) if n == b"methodCall" => Vec::new(),
        other => return err(format!("unexpected {} in <methodCall>", describe(&other))),
    };
    p.end_of_document()?;
    Ok((name, params))
}

/// Reads a `methodResponse`: the value, or the fault.
pub(crate) fn parse_response(doc: &[u8], max_depth: usize) -> R<Result<Value, Fault>> {
    let mut p = Parser::new(doc, max_depth);
    if !p.open(b"methodResponse")? {
        return err("empty <methodResponse/>");
    }
    let out = match p.tok_nonblank()? {
        Tok::Start(n) if n == b"params" => {
            let mut v = p.params()?;
            if v.len() != 1 {
                return err(format!("a response holds one value, not {}", v.len()));
            }
            Ok(v.pop().expect("one value"))
        }
        Tok::Start(n) if n == b"fault" => {
            let v = p.value()?;
            p.close(b"fault")?;
            Err(value_fault(&v).ok_or_else(|| XmlError::new("malformed fault"))?)
        }
        other => {
            return err(format!(
                "unexpected {} in <methodResponse>",
                describe(&other)
            ));
        }
    };
    p.close(b"methodResponse")?;
    p.end_of_document()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        let mut m = BTreeMap::new();
        m.insert("a<&>".to_string(), Value::Nil);
        m.insert("b".to_string(), Value::Base64(b"\x00\xffhi".to_vec()));
        let v = Value::Array(vec![
            Value::Int(-5),
            Value::I8(1 << 40),
            Value::Bool(true),
            Value::String("x < y & \"z\"\r\n".into()),
            Value::Double(0.1),
            Value::Double(f64::INFINITY),
            Value::DateTime("20240131T23:59:07".parse().unwrap()),
            Value::Struct(m),
            Value::Array(vec![]),
            Value::String(String::new()),
        ]);
        let doc = call("m.x", std::slice::from_ref(&v));
        let (name, params) = parse_call(doc.as_bytes(), 10).unwrap();
        assert_eq!(name, "m.x");
        assert_eq!(params, vec![v.clone()]);
        let doc = response(&Ok(v.clone()));
        assert_eq!(parse_response(doc.as_bytes(), 10).unwrap(), Ok(v));
        let f = Fault::new(3, "no");
        let doc = response(&Err(f.clone()));
        assert_eq!(parse_response(doc.as_bytes(), 10).unwrap(), Err(f));
    }

    #[test]
    fn lenient_forms_python_sends() {
        let doc = b"<?xml version='1.0'?>\n<methodCall><methodName>f</methodName><params>\
            <param><value>bare &amp; text</value></param>\
            <param><value><i4> 7 </i4></value></param>\
            <param><value><ex:nil xmlns:ex='x'/></value></param>\
            <param><value><string/></value></param>\
            <param><value/></param>\
            <param><value><array><data/></array></value></param>\
            <param><value><base64>AAEC\nAw==\n</base64></value></param>\
            </params></methodCall>";
        let (_, p) = parse_call(doc, 10).unwrap();
        assert_eq!(
            p,
            vec![
                Value::from("bare & text"),
                Value::Int(7),
                Value::Nil,
                Value::from(""),
                Value::from(""),
                Value::Array(vec![]),
                Value::Base64(vec![0, 1, 2, 3]),
            ]
        );
    }

    #[test]
    fn refuses_dtds_entities_depth_and_junk() {
        let dtd = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><methodCall><methodName>&a;</methodName></methodCall>";
        assert!(parse_call(dtd, 10).unwrap_err().to_string().contains("DTD"));
        let ent = b"<methodCall><methodName>&a;</methodName></methodCall>";
        assert!(
            parse_call(ent, 10)
                .unwrap_err()
                .to_string()
                .contains("undefined entity")
        );
        let deep = format!(
            "<methodCall><methodName>f</methodName><params><param><value>{}1{}</value></param></params></methodCall>",
            "<array><data><value>".repeat(20),
            "</value></data></array>".repeat(20)
        );
        assert!(
            parse_call(deep.as_bytes(), 19)
                .unwrap_err()
                .to_string()
                .contains("nesting")
        );
        assert!(parse_call(deep.as_bytes(), 20).is_ok());
        assert!(parse_call(b"<methodCall><methodName>f</methodName>", 10).is_err());
        assert!(
            parse_call(
                b"<methodCall><methodName>f</methodName></methodCall><x/>",
                10
            )
            .is_err()
        );
        assert!(parse_call(b"<methodCall><methodName>f</methodName><params><param><value><int>x</int></value></param></params></methodCall>", 10).is_err());
    }
}
