//! Redaction of audit event `details` before they are stored: values under sensitive keys become `{"hmac": <hex HMAC-SHA256 under the tenant's key>, "len": n}`, so investigators can correlate equal values without the audit store holding the plaintext.
//!
//! # Rules
//!
//! * Keys are compared after *normalisation*: lower-cased, with `_`, `-`, `.` and
//!   spaces removed, so `birth_date`, `birthDate`, `Birth-Date` and `BIRTHDATE` all
//!   match the entry `birthdate`.
//! * A key is sensitive if its normalised form is in the exact list, or ends with one
//!   of the suffixes (e.g. `patient_email`, `homePhone`, `mother_ssn`).
//! * The whole value under a sensitive key is replaced, whatever its type: a string, a
//!   number, an array of names, an address object. `null` is kept as `null` (it
//!   discloses nothing and keeps "field absent" distinguishable).
//! * Values under other keys are walked recursively (objects and arrays), so a
//!   sensitive key at any depth is found.
//! * The HMAC input is the value's *canonical bytes*: for a string, its UTF-8 bytes
//!   (without quotes, so an investigator can compute the HMAC of a name as typed);
//!   for any other value, its canonical JSON ([`crate::canonical`]). `len` is the
//!   length in bytes of that input. (Hence the string `"123"` and the number `123`
//!   correlate, which is intended for identifiers stored either way.)
//! * Redaction is not idempotent: apply it once, before insert.
//!
//! [`RedactionOutcome::any`] tells the caller whether anything was replaced, to add a
//! `sensitive_content` label to the event. The module performs no I/O; the per-tenant
//! key comes from the caller (the keyring).

use crate::canonical::to_canonical_vec;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::BTreeSet;

type HmacSha256 = Hmac<Sha256>;

/// Default exact key names (normalised form): personal names, birth dates, addresses,
/// contact details, identifiers, free text and search queries.
pub const DEFAULT_SENSITIVE_KEYS: &[&str] = &[
    // names
    "name",
    "names",
    "fullname",
    "displayname",
    "given",
    "givenname",
    "firstname",
    "family",
    "familyname",
    "lastname",
    "surname",
    "middlename",
    "maidenname",
    "prefix",
    "suffix",
    "alias",
    "nickname",
    // birth and death dates
    "birthdate",
    "dateofbirth",
    "dob",
    "birthday",
    "deceaseddate",
    "deceaseddatetime",
    "dateofdeath",
    // addresses and geography below state level
    "address",
    "addresses",
    "addressline",
    "line",
    "street",
    "streetaddress",
    "city",
    "district",
    "postalcode",
    "postcode",
    "zip",
    "zipcode",
    // contact details
    "telecom",
    "phone",
    "phonenumber",
    "telephone",
    "mobile",
    "fax",
    "email",
    "emailaddress",
    "contact",
    // identifiers
    "identifier",
    "identifiers",
    "mrn",
    "medicalrecordnumber",
    "ssn",
    "socialsecuritynumber",
    "nationalid",
    "passportnumber",
    "driverslicense",
    "insuranceid",
    "memberid",
    "policynumber",
    "accountnumber",
    "licensenumber",
    // free text
    "text",
    "note",
    "notes",
    "comment",
    "comments",
    "narrative",
    "freetext",
    "body",
    "content",
    "message",
    "div",
    // search queries
    "q",
    "query",
    "querytext",
    "search",
    "searchterm",
    "searchterms",
    "searchquery",
    "term",
    "terms",
    "keyword",
    "keywords",
];

/// Default suffixes (normalised form): a key ending in one of these is sensitive.
pub const DEFAULT_SENSITIVE_SUFFIXES: &[&str] = &[
    "name",
    "email",
    "phone",
    "phonenumber",
    "ssn",
    "mrn",
    "birthdate",
    "dateofbirth",
    "dob",
    "address",
    "postalcode",
    "zipcode",
    "note",
    "notes",
    "query",
];

/// Keys (normalised form) that end with a default suffix but name no personal data, so
/// they stay readable (`hostname`, `filename`, ...). An exact sensitive key always wins.
pub const DEFAULT_NON_SENSITIVE_KEYS: &[&str] = &[
    "hostname",
    "filename",
    "tablename",
    "servicename",
    "eventname",
    "actionname",
    "rolename",
    "scopename",
    "operationname",
    "codename",
];

/// Normalises a key for matching: lower-case, without `_`, `-`, `.` and whitespace.
pub fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What a redaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionOutcome {
    /// JSON Pointers (RFC 6901) of the replaced values, in document order. Keys are
    /// not considered sensitive, only values.
    pub redacted_paths: Vec<String>,
}

impl RedactionOutcome {
    /// True when at least one value was replaced: label the event `sensitive_content`.
    pub fn any(&self) -> bool {
        !self.redacted_paths.is_empty()
    }

    /// Number of replaced values.
    pub fn count(&self) -> usize {
        self.redacted_paths.len()
    }
}

/// Redacts event details with one tenant's HMAC key and a set of sensitive keys.
#[derive(Clone)]
pub struct Redactor {
    mac: HmacSha256,
    exact: BTreeSet<String>,
    suffixes: Vec<String>,
    exempt: BTreeSet<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("exact", &self.exact)
            .field("suffixes", &self.suffixes)
            .field("exempt", &self.exempt)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor with the default key lists. `tenant_key` is the tenant's secret HMAC
    /// key (32 random bytes recommended; any length is accepted by HMAC).
    pub fn new(tenant_key: &[u8]) -> Self {
        Self::with_keys(
            tenant_key,
            DEFAULT_SENSITIVE_KEYS.iter().copied(),
            DEFAULT_SENSITIVE_SUFFIXES.iter().copied(),
        )
    }

    /// A redactor with only the given exact keys and suffixes (normalised on the way
    /// in) and the default exemptions.
    pub fn with_keys<'a>(
        tenant_key: &[u8],
        exact: impl IntoIterator<Item = &'a str>,
        suffixes: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mac = <HmacSha256 as Mac>::new_from_slice(tenant_key)
            .expect("HMAC accepts keys of any length");
        Self {
            mac,
            exact: exact.into_iter().map(normalize_key).collect(),
            suffixes: suffixes.into_iter().map(normalize_key).collect(),
            exempt: DEFAULT_NON_SENSITIVE_KEYS
                .iter()
                .map(|k| normalize_key(k))
                .collect(),
        }
    }

    /// Adds an exact sensitive key (configuration).
    pub fn add_key(&mut self, key: &str) -> &mut Self {
        let k = normalize_key(key);
        self.exempt.remove(&k);
        self.exact.insert(k);
        self
    }

    /// Adds a sensitive suffix (configuration).
    pub fn add_suffix(&mut self, suffix: &str) -> &mut Self {
        self.suffixes.push(normalize_key(suffix));
        self
    }

    /// Keeps a key readable although it ends with a sensitive suffix. Exact entries
    /// still win.
    pub fn exempt_key(&mut self, key: &str) -> &mut Self {
        self.exempt.insert(normalize_key(key));
        self
    }

    /// Whether values under `key` are redacted.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        let k = normalize_key(key);
        if self.exact.contains(&k) {
            return true;
        }
        if self.exempt.contains(&k) {
            return false;
        }
        self.suffixes.iter().any(|s| k.ends_with(s.as_str()))
    }

    /// The bytes HMACed for `value` (see the module documentation).
    pub fn canonical_value_bytes(value: &Value) -> Vec<u8> {
        match value {
            Value::String(s) => s.as_bytes().to_vec(),
            other => to_canonical_vec(other),
        }
    }

    /// Hex HMAC-SHA256 of `value`'s canonical bytes under the tenant key: what an
    /// investigator computes to search the audit trail for a known value.
    pub fn hmac_hex(&self, value: &Value) -> String {
        self.hmac_bytes_hex(&Self::canonical_value_bytes(value))
    }

    fn hmac_bytes_hex(&self, bytes: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The replacement for a sensitive value: `{"hmac": "<hex>", "len": n}`.
    pub fn replacement(&self, value: &Value) -> Value {
        let bytes = Self::canonical_value_bytes(value);
        let mut m = Map::new();
        m.insert("hmac".into(), Value::String(self.hmac_bytes_hex(&bytes)));
        m.insert("len".into(), Value::from(bytes.len() as u64));
        Value::Object(m)
    }

    /// Redacts `details` in place and reports what was replaced.
    pub fn redact_in_place(&self, details: &mut Value) -> RedactionOutcome {
        let mut out = RedactionOutcome::default();
        let mut path = String::new();
        self.walk(details, &mut path, &mut out);
        out
    }

    /// Returns a redacted copy of `details` and what was replaced.
    pub fn redact(&self, details: &Value) -> (Value, RedactionOutcome) {
        let mut v = details.clone();
        let outcome = self.redact_in_place(&mut v);
        (v, outcome)
    }

    fn walk(&self, v: &mut Value, path: &mut String, out: &mut RedactionOutcome) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let len = path.len();
                    path.push('/');
                    push_pointer_token(path, k);
                    if self.is_sensitive_key(k) {
                        if !child.is_null() {
                            *child = self.replacement(child);
                            out.redacted_paths.push(path.clone());
                        }
                    } else {
                        self.walk(child, path, out);
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    self.walk(child, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// Appends `key` escaped as an RFC 6901 reference token.
fn push_pointer_token(path: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r() -> Redactor {
        Redactor::new(b"tenant-a secret key, 32 bytes!!!")
    }

    #[test]
    fn replaces_values_under_sensitive_keys_at_any_depth() {
        let details = json!({
            "resource_type": "Patient",
            "request": {
                "params": {"family": "Smith", "birthDate": "1970-01-01", "_count": 10},
                "Patient": {"name": [{"given": ["Jane"], "family": "Smith"}], "gender": "female"}
            },
            "outcome": "success",
            "search_query": "diabetes jane smith",
            "ids": [{"MRN": 12345}],
            "hostname": "node-1",
            "email": null
        });
        let (out, o) = r().redact(&details);
        let s = serde_json::to_string(&out).unwrap();
        for secret in ["Smith", "Jane", "1970-01-01", "diabetes", "12345"] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert_eq!(out["resource_type"], "Patient");
        assert_eq!(out["request"]["params"]["_count"], 10);
        assert_eq!(out["request"]["Patient"]["gender"], "female");
        assert_eq!(out["hostname"], "node-1");
        assert_eq!(out["email"], Value::Null);
        assert_eq!(out["request"]["params"]["family"]["len"], 5);
        assert!(o.any());
        assert_eq!(
            o.redacted_paths,
            vec![
                "/ids/0/MRN",
                "/request/Patient/name",
                "/request/params/birthDate",
                "/request/params/family",
                "/search_query",
            ]
        );
    }

    #[test]
    fn equal_values_correlate_and_keys_differ() {
        let a = r().redact(&json!({"family": "Smith"})).0;
        let b = r()
            .redact(&json!({"surname": "Smith", "x": {"lastName": "Smith"}}))
            .0;
        assert_eq!(a["family"], b["surname"]);
        assert_eq!(a["family"], b["x"]["lastName"]);
        assert_eq!(a["family"]["hmac"], r().hmac_hex(&json!("Smith")));
        let other = Redactor::new(b"tenant-b")
            .redact(&json!({"family": "Smith"}))
            .0;
        assert_ne!(a["family"], other["family"]);
    }

    #[test]
    fn hmac_is_rfc4231_hmac_sha256_of_the_canonical_bytes() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let red = Redactor::with_keys(b"Jefe", ["note"], []);
        let (out, _) = red.redact(&json!({"note": "what do ya want for nothing?"}));
        assert_eq!(
            out["note"]["hmac"],
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(out["note"]["len"], 28);
        // Non-strings hash their canonical JSON.
        let v = json!({"b": [1, 2], "a": "x"});
        assert_eq!(
            Redactor::canonical_value_bytes(&v),
            br#"{"a":"x","b":[1,2]}"#.to_vec()
        );
    }

    #[test]
    fn key_matching() {
        let red = r();
        for k in [
            "name",
            "Name",
            "birth_date",
            "BirthDate",
            "date-of-birth",
            "DOB",
            "patient_email",
            "homePhone",
            "Q",
            "search",
            "contact.email",
            "mother_maiden_name",
            "SSN",
            "mrn",
            "text",
            "note",
        ] {
            assert!(red.is_sensitive_key(k), "{k}");
        }
        for k in [
            "resource_type",
            "action",
            "hostname",
            "filename",
            "outcome",
            "id",
            "count",
            "gender",
            "status",
        ] {
            assert!(!red.is_sensitive_key(k), "{k}");
        }
        let mut red = Redactor::with_keys(b"k", ["diagnosis"], []);
        assert!(red.is_sensitive_key("Diagnosis") && !red.is_sensitive_key("name"));
        red.add_key("hostname").add_suffix("_secret");
        assert!(red.is_sensitive_key("hostname") && red.is_sensitive_key("my_secret"));
        let mut red = r();
        red.exempt_key("resource_name");
        assert!(!red.is_sensitive_key("resourceName"));
    }

    #[test]
    fn nothing_sensitive_means_no_label() {
        let details = json!({"action": "read", "resource": {"type": "Observation", "id": "abc"}, "n": [1, 2]});
        let mut v = details.clone();
        let o = r().redact_in_place(&mut v);
        assert!(!o.any());
        assert_eq!(o.count(), 0);
        assert_eq!(v, details);
    }

    #[test]
    fn pointer_escaping() {
        let (_, o) = r().redact(&json!({"a/b": {"x~y": [{"email": "e@x.org"}]}}));
        assert_eq!(o.redacted_paths, vec!["/a~1b/x~0y/0/email"]);
    }

    #[test]
    fn debug_hides_the_key() {
        let s = format!("{:?}", Redactor::new(b"super-secret-tenant-key"));
        assert!(!s.contains("super-secret"));
    }
}
