//! An error and its causes on one line, for a log field or a message: "writing the status:
//! ApiError: ...". Each cause is printed once, in order, `: `-separated.

use std::{error::Error, fmt};

/// The error and its sources as one string.
pub fn error_chain(error: &dyn Error) -> String {
    ErrorChain(error).to_string()
}

/// Displays an error and its sources without building a string first, for a log field
/// (`error = %ErrorChain(&error)`).
pub struct ErrorChain<'a>(pub &'a dyn Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing the status")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("ApiError")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_follows_once_in_order() {
        let error = Outer(Middle(std::io::Error::other("connection reset")));
        assert_eq!(
            error_chain(&error),
            "writing the status: ApiError: connection reset"
        );
        assert_eq!(
            ErrorChain(&error).to_string(),
            "writing the status: ApiError: connection reset"
        );
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
