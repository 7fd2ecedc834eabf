//! An error and its causes on one line, for a log field or a message: "writing the status:
//! ApiError: ...". Each cause is printed once, in order, `: `-separated. Many errors (kube's
//! and hyper's among them) already print their source in their own message; such a source is
//! not printed again.

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
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
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

    /// Prints its source in its own message, as kube's and hyper's errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("failed to perform initial object list: {0}")]
    struct Embeds(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("event queue error: {0}")]
    struct EmbedsTwice(#[source] Embeds);

    #[test]
    fn a_cause_already_in_the_message_above_it_is_not_repeated() {
        let refused = || std::io::Error::other("connection refused");
        assert_eq!(
            error_chain(&Embeds(Middle(refused()))),
            "failed to perform initial object list: ApiError: connection refused"
        );
        assert_eq!(
            error_chain(&EmbedsTwice(Embeds(Middle(refused())))),
            "event queue error: failed to perform initial object list: ApiError: \
             connection refused"
        );
        // A cause is compared with its own parent only: "writing" is in the first message,
        // not in "ApiError", so it is shown.
        assert_eq!(
            error_chain(&Outer(Middle(std::io::Error::other("writing")))),
            "writing the status: ApiError: writing"
        );
    }
}
