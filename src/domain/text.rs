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

/// A required field, trimmed, within its length, on one line, with
/// something to see (`shown_text`).
pub fn required_text(
    field: &str,
    value: Option<String>,
    min: usize,
    max: usize,
) -> Result<String, AppError> {
    required_text_in(field, value, min, max, Lines::One)
}

/// `required_text` for a field that may span lines (a claim's name or
/// address, which the creator copies onto a parcel as written).
pub fn required_text_in(
    field: &str,
    value: Option<String>,
    min: usize,
    max: usize,
    lines: Lines,
) -> Result<String, AppError> {
    let raw = value.ok_or_else(|| AppError::InvalidArgument(format!("{field} is required")))?;
    let value = trimmed_within(field, &raw, max)?;
    text_in_range(field, &value, min, max)?;
    shown_text(field, &value, lines)?;
    if min > 0 && !value.chars().any(visible) {
        return Err(AppError::InvalidArgument(format!(
            "{field} must contain a visible character"
        )));
    }
    Ok(value)
}

/// Trims a text whose length as sent is already within `max`. The bound
/// holds before trimming too, so that the OpenAPI document's `maxLength`
/// (which a schema applies to the value as sent) is exactly what the server
/// accepts: 32 spaces around a 1-character name are refused, not trimmed
/// into range (schemathesis's negative-data check found the difference).
pub fn trimmed_within(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    text_in_range(field, raw, 0, max)?;
    Ok(raw.trim().to_string())
}

/// Whether a text may span lines (a description, a note) or not (a title,
/// a name).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Refuses what text others are shown must not hold: control characters
/// (NUL and the rest of C0 and C1; line breaks and tabs only where `Lines::Many`)
/// and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), which make the text after them read in another order
/// than it was written: a name that shows as "nwonknU" reversed, or a
/// title that hides part of the page's own text (the "Trojan Source"
/// class, CVE-2021-42574). The messages name the code point, never the text.
pub fn shown_text(field: &str, value: &str, lines: Lines) -> Result<(), AppError> {
    for c in value.chars() {
        let line_break = matches!(c, '\n' | '\r' | '\t');
        if c.is_control() && !(line_break && lines == Lines::Many) {
            return Err(AppError::InvalidArgument(format!(
                "{field} contains a control character (U+{:04X})",
                u32::from(c)
            )));
        }
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            return Err(AppError::InvalidArgument(format!(
                "{field} contains a direction override (U+{:04X}), which would show the text after it in another order",
                u32::from(c)
            )));
        }
    }
    Ok(())
}

/// Whether a character shows something: not white space, and not one of
/// the characters that take no room (zero-width space, joiners, word
/// joiner, byte-order mark, Hangul fillers, the blank Braille pattern),
/// which alone make a name or title that looks empty.
pub fn visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{180E}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{2800}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_others_see_has_no_controls_no_overrides_and_something_visible() {
        let required = |v: &str| required_text("title", Some(v.into()), 1, 50);
        assert_eq!(
            required("Lucky draw 抽奖 🎁").unwrap(),
            "Lucky draw 抽奖 🎁"
        );
        // A family emoji is joined with U+200D: visible text keeps it.
        assert!(required("👨\u{200D}👩\u{200D}👧").is_ok());
        for bad in ["a\0b", "a\u{202E}b", "a\u{2067}b", "a\nb", "a\u{85}b"] {
            let err = required(bad).unwrap_err();
            assert_eq!(err.code(), 40000);
            assert!(err.to_string().starts_with("title contains"), "{err}");
        }
        for blank in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{FEFF}",
            "\u{3164}",
            "\u{2800}\u{2800}",
        ] {
            let err = required(blank).unwrap_err();
            assert!(err.to_string().contains("visible"), "{blank:?}: {err}");
        }
        assert!(shown_text("description", "line one\nline two\tend", Lines::Many).is_ok());
        assert!(shown_text("description", "bell\u{7}", Lines::Many).is_err());
    }
}
