//! Diagnostics: what Terraform shows the user, each optionally pointing at an attribute.

use std::fmt;

/// One step of an attribute path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute or nested block, by name.
    Attribute(String),
    /// A map element, by key.
    Key(String),
    /// A list element (or a block in a list of blocks), by index.
    Index(i64),
}

/// A path to an attribute, as Terraform uses it to underline the offending configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The path to a top-level attribute.
    pub fn root(name: &str) -> Self {
        AttributePath(vec![PathStep::Attribute(name.to_string())])
    }

    pub fn attr(mut self, name: &str) -> Self {
        self.0.push(PathStep::Attribute(name.to_string()));
        self
    }

    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }

    pub fn index(mut self, index: usize) -> Self {
        self.0.push(PathStep::Index(index as i64));
        self
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => f.write_str(name)?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One message for the user. Never put secret material in `summary` or `detail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub attribute: Option<AttributePath>,
}

/// A collection of diagnostics; the error type of every provider, resource and data source call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error with no attribute.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut d = Self::new();
        d.push_error(None, summary, detail);
        d
    }

    /// A single error on an attribute.
    pub fn error_at(path: AttributePath, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut d = Self::new();
        d.push_error(Some(path), summary, detail);
        d
    }

    pub fn push_error(
        &mut self,
        attribute: Option<AttributePath>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Error, attribute, summary.into(), detail.into());
    }

    pub fn push_warning(
        &mut self,
        attribute: Option<AttributePath>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Warning, attribute, summary.into(), detail.into());
    }

    fn push(&mut self, severity: Severity, attribute: Option<AttributePath>, summary: String, detail: String) {
        self.0.push(Diagnostic { severity, summary, detail, attribute });
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when there are no errors, else `Err(self)`: lets validators collect every problem
    /// and still be used with `?`.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.has_errors() { Err(self) } else { Ok(()) }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            match &d.attribute {
                Some(path) => writeln!(f, "{:?}: {} ({path}): {}", d.severity, d.summary, d.detail)?,
                None => writeln!(f, "{:?}: {}: {}", d.severity, d.summary, d.detail)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_terraform_addresses() {
        let p = AttributePath::root("hub").attr("exec").index(0).attr("env").key("AWS_PROFILE");
        assert_eq!(p.to_string(), "hub.exec[0].env[\"AWS_PROFILE\"]");
    }

    #[test]
    fn warnings_alone_are_not_errors() {
        let mut d = Diagnostics::new();
        d.push_warning(None, "w", "");
        assert!(d.clone().into_result().is_ok());
        d.push_error(None, "e", "");
        assert!(d.into_result().is_err());
    }
}
