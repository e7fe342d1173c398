//! The rule every text field shares: its length in characters (what a
//! person counts, not bytes), with a 40000 that names the field.

use crate::error::AppError;

pub fn text_in_range(field: &str, value: &str, min: usize, max: usize) -> Result<(), AppError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(AppError::InvalidArgument(format!(
            "{field} must be {min} to {max} characters long (got {len})"
        )));
    }
    Ok(())
}
