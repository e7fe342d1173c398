//! The rules every text field shares: present when required, trimmed, and
//! its length in characters (what a person counts, not bytes), each with a
//! 40000 that names the field.

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

/// A required field, trimmed, within its length.
pub fn required_text(
    field: &str,
    value: Option<String>,
    min: usize,
    max: usize,
) -> Result<String, AppError> {
    let value = value
        .ok_or_else(|| AppError::InvalidArgument(format!("{field} is required")))?
        .trim()
        .to_string();
    text_in_range(field, &value, min, max)?;
    Ok(value)
}
