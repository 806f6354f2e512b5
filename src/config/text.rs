//! Positions in YAML text. The parser's spans count characters; slicing the text needs bytes.

/// Character index → byte offset, for indices that mostly grow (a document is read in order):
/// each lookup walks on from the last one, and only a step back starts again from the top.
#[derive(Debug, Default)]
pub(crate) struct ByteCursor {
    chars: usize,
    bytes: usize,
}

impl ByteCursor {
    /// The byte offset of character `char_index` in `text` (its length past the end).
    pub(crate) fn byte(&mut self, text: &str, char_index: usize) -> usize {
        if char_index < self.chars {
            *self = ByteCursor::default();
        }
        for c in text[self.bytes..].chars() {
            if self.chars == char_index {
                break;
            }
            self.chars += 1;
            self.bytes += c.len_utf8();
        }
        self.bytes
    }

    /// Whether the character at `char_index` opens a flow collection (`{` or `[`).
    pub(crate) fn opens_flow(&mut self, text: &str, char_index: usize) -> bool {
        matches!(text.as_bytes().get(self.byte(text, char_index)), Some(b'{' | b'['))
    }

    /// Where a collection's end event at character `at` ends: after its closing bracket for a
    /// flow collection, 0 for a block collection (no bracket there).
    pub(crate) fn closing_end(&mut self, text: &str, at: usize) -> usize {
        match text.as_bytes().get(self.byte(text, at)) {
            Some(b'}' | b']') => at + 1,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_indices_map_to_bytes_forward_and_back() {
        let text = "é: [ü]\n";
        let mut c = ByteCursor::default();
        assert_eq!(c.byte(text, 3), 4);
        assert!(c.opens_flow(text, 3));
        assert_eq!(c.closing_end(text, 5), 6);
        // A step back starts again from the top.
        assert_eq!(c.byte(text, 1), 2);
        assert_eq!(c.closing_end(text, 0), 0);
        assert_eq!(c.byte(text, 100), text.len());
    }
}
