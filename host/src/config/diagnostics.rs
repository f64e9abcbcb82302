//! Errors that point into the pipeline file: `pipeline.toml:12:5: stage "web": unknown key`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The pipeline text, to turn byte offsets into 1-based lines and columns.
#[derive(Clone, Debug)]
pub struct SourceMap {
    path: PathBuf,
    line_starts: Vec<usize>,
    text: String,
}

impl SourceMap {
    pub fn new(path: &Path, text: &str) -> SourceMap {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap {
            path: path.to_path_buf(),
            line_starts,
            text: text.to_string(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let end = offset.min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    /// A diagnostic at a span.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        Diagnostic {
            path: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// One problem in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file as a whole (it could not be read), not a place in it.
        if self.line == 0 {
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Every problem found in a pipeline file.
#[derive(Debug)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::SourceMap;
    use std::path::Path;

    #[test]
    fn offsets_become_lines_and_columns() {
        let map = SourceMap::new(Path::new("p.toml"), "a = 1\n[flows]\nx = 2\n");
        assert_eq!(map.line_col(0), (1, 1));
        assert_eq!(map.line_col(6), (2, 1));
        assert_eq!(map.line_col(16), (3, 3));
    }

    #[test]
    fn a_problem_with_the_whole_file_names_no_place_in_it() {
        let at = |line| {
            super::Diagnostic {
                path: "p.toml".into(),
                line,
                column: 0,
                message: "cannot read the pipeline file".into(),
            }
            .to_string()
        };
        assert_eq!(at(0), "p.toml: cannot read the pipeline file");
        assert_eq!(at(3), "p.toml:3:0: cannot read the pipeline file");
    }
}
