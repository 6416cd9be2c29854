//! Which field a JSON syntax error belongs to: serde_json reports a line and a
//! column, and a person fixing a settings file wants the field's name (a `NaN`
//! written by Python's `json.dump` is the usual culprit).

/// The name of the field whose value holds the position `line`:`column`
/// (1-based, as serde_json reports them) of `text`; inside an array, the
/// field that holds the array. `None` outside any field.
pub fn json_field_at(text: &str, line: usize, column: usize) -> Option<String> {
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut pending: Option<String> = None;
    let mut last_string: Option<String> = None;
    let (mut row, mut col) = (1usize, 0usize);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            row += 1;
            col = 0;
        } else {
            col += 1;
        }
        if row > line || (row == line && col >= column) {
            break;
        }
        match c {
            '"' => {
                let mut s = String::new();
                let mut escaped = false;
                for d in chars.by_ref() {
                    col += 1;
                    match (escaped, d) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {
                            escaped = false;
                            s.push(d);
                        }
                    }
                }
                last_string = Some(s);
            }
            ':' => pending = last_string.take(),
            '{' | '[' => stack.push(pending.take().or_else(|| stack.last().cloned().flatten())),
            '}' | ']' => {
                stack.pop();
                pending = None;
            }
            ',' => pending = None,
            _ => {}
        }
    }
    pending.or_else(|| stack.last().cloned().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of_error(text: &str) -> Option<String> {
        let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        json_field_at(text, e.line(), e.column())
    }

    #[test]
    fn a_nan_is_traced_to_its_field_in_objects_and_arrays() {
        assert_eq!(
            field_of_error(r#"{"steps": 4, "lr": NaN}"#).as_deref(),
            Some("lr")
        );
        let nested = "{\n  \"speed\": {\n    \"lo\": 1,\n    \"hi\": NaN\n  }\n}";
        assert_eq!(field_of_error(nested).as_deref(), Some("hi"));
        let array = "{\n  \"model_size\": [\n    NaN,\n    32\n  ]\n}";
        assert_eq!(field_of_error(array).as_deref(), Some("model_size"));
        assert_eq!(
            field_of_error(r#"{"a": "x:y", "b": NaN}"#).as_deref(),
            Some("b")
        );
    }
}
