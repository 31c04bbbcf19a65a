//! Search as pure rules, shared by both stores: the query language parsed once (with the
//! position of any error), the folding that makes matching case- and accent-insensitive, the
//! searchable text of a record (key fields apart, per record type), highlighted snippets, and
//! the query compiled to SQLite FTS5 `MATCH` syntax and to
//! PostgreSQL `tsquery` syntax.
//!
//! Both stores index the *folded* text this crate produces and run the *folded* query, so
//! "Müller", "MULLER" and "muller" match each other on either store alike.
//!
//! Query language: `term`, `"a phrase"`, `pref*` (prefix), `name~` (fuzzy), `AND`, `OR`, `NOT` (upper case),
//! parentheses; juxtaposition means AND; `NOT` binds tightest, then AND, then OR.

pub mod compile;
pub mod fields;
pub mod fuzzy;
pub mod parse;
pub mod rank;
pub mod snippet;
pub mod text;

pub use fields::{searchable, settings, SearchSettings, SearchText, TypeFields};
pub use parse::{parse, Limits, Query, QueryError};
pub use snippet::{snippet, Fragment};
pub use text::fold;
