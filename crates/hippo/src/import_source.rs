//! What `hippo import` reads: NDJSON lines, and CSV rows turned into records through a column
//! mapping, each becoming a batch item with a deterministic idempotency key, or a rejection
//! naming its line and the kind of problem (never the content: it is PHI).

use anyhow::{bail, Context, Result};
use hippo_core::{canonical, validate, RecordInput};
use hippo_proto::{IDEMPOTENCY_KEY_FIELD, IDEMPOTENCY_KEY_MAX};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One record envelope per line, as `POST /v1/records` takes it.
    Ndjson,
    /// A header row, then one record per row, through `--type` and `--map`.
    Csv,
}

impl Format {
    /// The format a file's extension names, if it names one.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// One record ready to send: its envelope (with its idempotency key) and where it came from.
#[derive(Debug, Clone)]
pub struct Item {
    pub line: u64,
    pub envelope: Value,
}

/// A line left out of the import, with what is wrong with it (field names and problem kinds
/// only).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub line: u64,
    pub problem: String,
}

pub type Entry = std::result::Result<Item, Rejection>;

/// Derives each record's idempotency key from the record itself (its canonical form) and the
/// number of identical records before it in the same file. Importing a file again, a file that
/// has grown, or a fresh export of the same data therefore sends the same keys for the same
/// records, and the server skips them; two identical lines in one file stay two records.
#[derive(Default)]
pub struct Keys {
    seen: HashMap<[u8; 32], u32>,
}

impl Keys {
    pub fn key(&mut self, input: &RecordInput) -> String {
        let digest: [u8; 32] =
            Sha256::digest(canonical::to_canonical_bytes(&envelope(input))).into();
        let n = self.seen.entry(digest).or_insert(0);
        let occurrence = *n;
        *n += 1;
        let mut h = Sha256::new();
        h.update(b"hippo import v1\0");
        h.update(digest);
        h.update(occurrence.to_be_bytes());
        format!("import-v1-{}", hex::encode(h.finalize()))
    }
}

/// The envelope of a validated record input, as sent.
fn envelope(input: &RecordInput) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), input.record_type.clone().into());
    if let Some(s) = &input.subject {
        m.insert("subject".into(), s.clone().into());
    }
    m.insert("labels".into(), input.labels.clone().into());
    m.insert("body".into(), Value::Object(input.body.clone()));
    Value::Object(m)
}

/// Validates an envelope as the server will and attaches its key: the given one (an NDJSON line
/// may carry its own `idempotency_key`) or one derived by `keys`.
fn finish(line: u64, mut value: Value, keys: &mut Keys) -> Entry {
    let given = match value.as_object_mut().and_then(|o| o.remove(IDEMPOTENCY_KEY_FIELD)) {
        None => None,
        Some(Value::String(k))
            if (1..=IDEMPOTENCY_KEY_MAX).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(k)
        }
        Some(_) => {
            return Err(Rejection {
                line,
                problem: format!("field {IDEMPOTENCY_KEY_FIELD}: must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
            })
        }
    };
    let input = validate::record_input(value).map_err(|e| Rejection {
        line,
        problem: e
            .0
            .iter()
            .map(|f| format!("field {}: {} ({})", f.field, f.code, f.message))
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let key = given.unwrap_or_else(|| keys.key(&input));
    let mut envelope = envelope(&input);
    envelope[IDEMPOTENCY_KEY_FIELD] = key.into();
    Ok(Item { line, envelope })
}

/// Reads NDJSON: each non-blank line is one record envelope.
pub fn ndjson(reader: impl BufRead) -> impl Iterator<Item = Result<Entry>> {
    let mut keys = Keys::default();
    let mut lines = reader.split(b'\n');
    let mut n = 0u64;
    std::iter::from_fn(move || loop {
        let line = match lines.next()? {
            Ok(l) => l,
            Err(e) => return Some(Err(anyhow::Error::new(e).context("reading the file"))),
        };
        n += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = match hippo_core::strict_json::parse(&line) {
            Ok(v) => finish(n, v, &mut keys),
            Err(e) => Err(Rejection {
                line: n,
                problem: json_problem(&e),
            }),
        };
        return Some(Ok(entry));
    })
}

/// A JSON syntax problem by kind and column; key names (which could be data) are left out.
fn json_problem(e: &hippo_core::strict_json::StrictJsonError) -> String {
    use hippo_core::strict_json::StrictJsonError as E;
    match e {
        E::Syntax { column, .. } => format!("not valid JSON (column {column})"),
        E::DuplicateKey { .. } => "a key appears twice in one JSON object".into(),
        E::UnrepresentableNumber { .. } => {
            "a number cannot be stored exactly (64-bit integer or double)".into()
        }
    }
}

/// How a CSV cell becomes a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    String,
    Number,
    Bool,
}

/// One `field=column[:kind]` of a mapping.
#[derive(Debug, Clone, PartialEq)]
struct FieldMap {
    path: Vec<String>,
    column: String,
    cell: Cell,
}

/// How CSV rows become records: a fixed type and labels, an optional subject column, and body
/// fields (dotted paths into the body) taken from named columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    record_type: String,
    subject_column: Option<String>,
    labels: Vec<String>,
    fields: Vec<FieldMap>,
}

impl Mapping {
    /// Parses `spec` (`field=column[:kind]` pairs separated by commas or new lines; `#` starts
    /// a comment line; `@FILE` reads them from FILE).
    pub fn parse(
        record_type: &str,
        spec: &str,
        subject_column: Option<String>,
        labels: Vec<String>,
    ) -> Result<Self> {
        let text = match spec.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the mapping file {file}"))?,
            None => spec.to_owned(),
        };
        let mut fields: Vec<FieldMap> = Vec::new();
        for pair in text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((path, column)) = pair.split_once('=') else {
                bail!("mapping entry `{pair}` has no `=`: write body.field=column, e.g. name.family=last_name");
            };
            let (column, cell) = match column.trim().rsplit_once(':') {
                Some((c, "string")) => (c, Cell::String),
                Some((c, "number")) => (c, Cell::Number),
                Some((c, "bool")) => (c, Cell::Bool),
                Some((_, kind)) => bail!(
                    "mapping entry `{pair}`: unknown kind `{kind}` (use string, number or bool)"
                ),
                None => (column.trim(), Cell::String),
            };
            let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
            if column.is_empty() || path.iter().any(String::is_empty) {
                bail!(
                    "mapping entry `{pair}`: the field path and the column must both be non-empty"
                );
            }
            for other in &fields {
                let (short, long) = if other.path.len() <= path.len() {
                    (&other.path, &path)
                } else {
                    (&path, &other.path)
                };
                if long.starts_with(short) {
                    bail!(
                        "mapping fields `{}` and `{}` overlap: one would overwrite the other",
                        other.path.join("."),
                        path.join(".")
                    );
                }
            }
            fields.push(FieldMap {
                path,
                column: column.to_owned(),
                cell,
            });
        }
        if fields.is_empty() {
            bail!("the mapping names no field: pass --map 'field=column,...', e.g. --map 'name.family=last_name,birthDate=dob'");
        }
        // The type is checked once here rather than failing every row.
        let probe = serde_json::json!({"type": record_type, "labels": labels, "body": {}});
        if let Err(e) = validate::record_input(probe) {
            let why: Vec<String> =
                e.0.iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
            bail!("--type/--label: {}", why.join("; "));
        }
        Ok(Self {
            record_type: record_type.to_owned(),
            subject_column,
            labels,
            fields,
        })
    }
}

/// Column positions of a mapping in one file's header.
struct Resolved {
    subject: Option<usize>,
    fields: Vec<(usize, FieldMap)>,
}

fn resolve(mapping: &Mapping, header: &csv::StringRecord, file: &Path) -> Result<Resolved> {
    let find = |column: &str| {
        header
            .iter()
            .position(|h| h.trim() == column)
            .with_context(|| {
                format!(
                    "{}: the header has no column `{column}` (the mapping names it)",
                    file.display()
                )
            })
    };
    Ok(Resolved {
        subject: mapping.subject_column.as_deref().map(find).transpose()?,
        fields: mapping
            .fields
            .iter()
            .map(|f| Ok((find(&f.column)?, f.clone())))
            .collect::<Result<_>>()?,
    })
}

/// Reads CSV through `mapping`: line numbers are those of each row's first line in the file.
pub fn csv<'a>(
    reader: impl std::io::Read + 'a,
    mapping: &'a Mapping,
    file: &Path,
) -> Result<impl Iterator<Item = Result<Entry>> + 'a> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header = rdr
        .headers()
        .with_context(|| format!("{}: reading the CSV header", file.display()))?
        .clone();
    let resolved = resolve(mapping, &header, file)?;
    let mut keys = Keys::default();
    let mut rows = rdr.into_records();
    Ok(std::iter::from_fn(move || {
        let row = match rows.next()? {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Some(match e.kind() {
                    csv::ErrorKind::Io(_) => Err(anyhow::anyhow!("reading the file: {e}")),
                    _ => Ok(Err(Rejection {
                        line,
                        problem: "not a valid CSV row (bad quoting or not UTF-8)".into(),
                    })),
                });
            }
        };
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        Some(Ok(row_entry(
            &row,
            line,
            header.len(),
            mapping,
            &resolved,
            &mut keys,
        )))
    }))
}

fn row_entry(
    row: &csv::StringRecord,
    line: u64,
    width: usize,
    mapping: &Mapping,
    resolved: &Resolved,
    keys: &mut Keys,
) -> Entry {
    let reject = |problem: String| Err(Rejection { line, problem });
    if row.len() != width {
        return reject(format!(
            "the row has {} fields, the header {width}",
            row.len()
        ));
    }
    let mut body = Map::new();
    for (idx, f) in &resolved.fields {
        let cell = row.get(*idx).unwrap_or("").trim();
        if cell.is_empty() {
            continue; // an empty cell leaves its field out
        }
        let value = match f.cell {
            Cell::String => Value::String(cell.to_owned()),
            Cell::Number => match cell.parse::<i64>().map(Value::from).ok().or_else(|| {
                cell.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            }) {
                Some(v) => v,
                None => {
                    return reject(format!(
                        "column `{}` (field {}): not a number",
                        f.column,
                        f.path.join(".")
                    ))
                }
            },
            Cell::Bool => match cell.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => {
                    return reject(format!(
                        "column `{}` (field {}): not true/false",
                        f.column,
                        f.path.join(".")
                    ))
                }
            },
        };
        insert(&mut body, &f.path, value);
    }
    let mut envelope = serde_json::json!({
        "type": mapping.record_type,
        "labels": mapping.labels,
        "body": body,
    });
    if let Some(idx) = resolved.subject {
        let subject = row.get(idx).unwrap_or("").trim();
        if subject.is_empty() {
            return reject(format!(
                "the subject column `{}` is empty",
                mapping.subject_column.as_deref().unwrap_or_default()
            ));
        }
        envelope["subject"] = subject.into();
    }
    finish(line, envelope, keys)
}

/// Sets `path` in `body`, creating the objects on the way (mappings never overlap).
fn insert(body: &mut Map<String, Value>, path: &[String], value: Value) {
    let (last, parents) = path.split_last().expect("paths are non-empty");
    let mut at = body;
    for p in parents {
        at = at
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("mapping paths never overlap");
    }
    at.insert(last.clone(), value);
}

#[cfg(test)]
#[path = "import_source_tests.rs"]
mod tests;
