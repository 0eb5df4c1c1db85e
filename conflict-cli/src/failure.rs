//! An error with the exit code it maps to.

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// Invalid arguments or input (exit code 2).
    pub fn invalid(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_INVALID,
            error: error.into(),
        }
    }

    /// Any other failure (exit code 1).
    pub fn other(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_FAILURE,
            error: error.into(),
        }
    }
}

pub type CliResult = Result<(), Failure>;
