//! An oracle for `POST /api/sum` written without the site's code: it reads
//! the list's numbers from the body's text, as Python's `json` module
//! does (a number without a fraction or an exponent is an int, of any
//! size, `-0` included), and sums them as big ints.

use serde_json::Value;

/// What `/api/sum` must answer to a body (whose Content-Type and size
/// are fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SumAnswer {
    /// 200 `{"sum": n}`.
    Sum(i64),
    /// 400: not JSON.
    Malformed,
    /// 422: JSON, but not a list of ints each from -2^63 to 2^63-1 whose
    /// sum is one too.
    Refused,
}

/// JSON's whitespace (RFC 8259, 2).
fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// An int of JSON's grammar: `-?(0|[1-9][0-9]*)`.
fn int_token(token: &str) -> Option<i128> {
    let digits = token.strip_prefix('-').unwrap_or(token);
    let valid = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !valid {
        return None;
    }
    // Longer than any i64 (19 digits): out of range, whatever it is.
    if digits.len() > 20 {
        return Some(i128::MAX);
    }
    let n: i128 = digits.parse().ok()?;
    Some(if token.starts_with('-') { -n } else { n })
}

/// What `/api/sum` must answer to `body`.
pub fn sum_answer(body: &[u8]) -> SumAnswer {
    // serde_json says whether it is JSON at all (the site's parser, but
    // the only question asked of it here); the numbers are read below.
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return SumAnswer::Malformed;
    };
    let Value::Array(items) = value else {
        return SumAnswer::Refused;
    };
    if !items.iter().all(Value::is_number) {
        return SumAnswer::Refused;
    }
    // A list of numbers only: its text is `[`, numbers and commas, `]`,
    // with JSON whitespace anywhere between them.
    let Ok(text) = std::str::from_utf8(body) else {
        return SumAnswer::Refused;
    };
    let inner = text
        .trim_matches(is_json_space)
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .expect("a JSON list is in brackets");
    let mut total: i128 = 0;
    if !items.is_empty() {
        for token in inner.split(',') {
            match int_token(token.trim_matches(is_json_space)) {
                Some(n) if i128::from(i64::MIN) <= n && n <= i128::from(i64::MAX) => total += n,
                // An int out of range, or a float.
                _ => return SumAnswer::Refused,
            }
        }
    }
    match i64::try_from(total) {
        Ok(sum) => SumAnswer::Sum(sum),
        Err(_) => SumAnswer::Refused,
    }
}
