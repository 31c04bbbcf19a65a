//! Parsers that keep source lines: JSON and YAML (with CloudFormation tags).

pub mod json;
pub mod yaml;
