//! Reading pcapxray's TOML files (pipelines, capability grants): positioned diagnostics, readers of
//! typed values that record what is wrong and where instead of stopping at the first problem, and the
//! path rules. A floor module: it depends on nothing else in the host, so the pipeline and every
//! capability can read their own syntax with it.

mod diagnostics;
mod paths;

pub use diagnostics::{Diagnostic, Diagnostics, SourceMap};
pub use paths::{expand_home, normalize};

use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Reads values of one TOML file, collecting every problem with its position.
pub struct TomlReader<'a> {
    pub source: &'a SourceMap,
    pub errors: Vec<Diagnostic>,
}

impl<'a> TomlReader<'a> {
    pub fn new(source: &'a SourceMap) -> TomlReader<'a> {
        TomlReader {
            source,
            errors: Vec::new(),
        }
    }

    pub fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    pub fn table<'v>(
        &mut self,
        value: &'v Spanned<DeValue<'v>>,
        what: &str,
    ) -> Option<&'v DeTable<'v>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.err(value.span(), format!("`{what}` must be a table"));
                None
            }
        }
    }

    pub fn uint(
        &mut self,
        value: &Spanned<DeValue>,
        what: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let parsed = match value.get_ref() {
            DeValue::Integer(i) => {
                u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    value.span(),
                    format!("`{what}` must be a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    pub fn string(&mut self, value: &Spanned<DeValue>, what: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.err(value.span(), format!("`{what}` must be a string"));
                None
            }
        }
    }
}
