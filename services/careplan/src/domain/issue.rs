//! Problems found in a file or a bundle: where (line, column, byte offset), a stable code and
//! a message that names the rule. Messages never quote a value (it may be personal data).

use std::fmt;

/// Error refuses the file; Warning is accepted but worth fixing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The file it concerns; empty for bundle-level problems.
    pub file_name: String,
    /// 1-based line; 0 for the file name or the bundle.
    pub line: u32,
    /// 1-based CSV column; 0 when not about one column.
    pub column: u32,
    /// Byte offset within the line, for encoding problems; 0 otherwise.
    pub byte_offset: u32,
    /// Stable UPPER_SNAKE code.
    pub code: &'static str,
    pub message: String,
    pub severity: Severity,
    /// True when the problem is in the file name (line and column are then 0).
    pub in_name: bool,
}

impl Issue {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            file_name: String::new(),
            line: 0,
            column: 0,
            byte_offset: 0,
            code,
            message: message.into(),
            severity: Severity::Error,
            in_name: false,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, message) }
    }

    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    pub fn offset(mut self, byte_offset: u32) -> Self {
        self.byte_offset = byte_offset;
        self
    }

    /// Marks the problem as one of the file name.
    pub fn of_name(mut self) -> Self {
        self.in_name = true;
        self
    }

    /// Where the problem is, as the path of a field violation under the file's own path
    /// (`files[2]`): `.file_name`, `.line[14]`, `.line[14].column[7]`, or nothing for the
    /// whole file.
    pub fn field_path(&self) -> String {
        match (self.in_name, self.line, self.column) {
            (true, _, _) => ".file_name".to_owned(),
            (false, 0, _) => String::new(),
            (false, line, 0) => format!(".line[{line}]"),
            (false, line, column) => format!(".line[{line}].column[{column}]"),
        }
    }

    pub fn in_file(mut self, file_name: &str) -> Self {
        file_name.clone_into(&mut self.file_name);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {} {}", self.file_name, self.line, self.column, self.code, self.message)
    }
}

/// Collects issues up to a bound, so a hostile file cannot grow the list without limit.
#[derive(Debug, Clone)]
pub struct Issues {
    items: Vec<Issue>,
    limit: usize,
    dropped: usize,
}

impl Issues {
    /// The default bound per file.
    pub const DEFAULT_LIMIT: usize = 1000;

    pub fn new(limit: usize) -> Self {
        Self { items: Vec::new(), limit, dropped: 0 }
    }

    pub fn push(&mut self, issue: Issue) {
        if self.items.len() < self.limit { self.items.push(issue) } else { self.dropped += 1 }
    }

    pub fn has_errors(&self) -> bool {
        self.dropped > 0 || self.items.iter().any(Issue::is_error)
    }

    /// The issues, plus one TOO_MANY_ISSUES when some were left out.
    pub fn into_vec(mut self) -> Vec<Issue> {
        if self.dropped > 0 {
            self.items
                .push(Issue::error("TOO_MANY_ISSUES", format!("{} further issues were not listed", self.dropped)));
        }
        self.items
    }

    pub fn as_slice(&self) -> &[Issue] {
        &self.items
    }
}

impl Default for Issues {
    fn default() -> Self {
        Self::new(Self::DEFAULT_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_path_names_the_name_the_line_and_the_column() {
        let e = || Issue::error("BAD_CHECK_DIGIT", "x");
        assert_eq!(e().at(14, 7).field_path(), ".line[14].column[7]");
        assert_eq!(e().at(3, 0).field_path(), ".line[3]");
        assert_eq!(e().field_path(), "");
        assert_eq!(e().of_name().field_path(), ".file_name");
    }
}
