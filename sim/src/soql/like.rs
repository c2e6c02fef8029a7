//! String literals' two readings: as text for `=` and friends (`\%` and
//! `\_` keep their backslash) and as LIKE patterns (`%` any run, `_` one
//! character, compared case-insensitively), and the LIKE match itself,
//! linear in pattern times text (no backtracking).

use super::LiteralChar;

/// One step of a LIKE pattern; characters are lower-cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternItem {
    Char(char),
    /// `_`.
    AnyOne,
    /// `%`.
    AnyRun,
}

/// The literal's text for `=` and `!=`: `\%` and `\_` keep their backslash.
pub fn text_of(literal: &[LiteralChar]) -> String {
    let mut out = String::new();
    for ch in literal {
        if ch.escaped {
            out.push('\\');
        }
        out.push(ch.c);
    }
    out
}

/// The literal as a LIKE pattern, lower-cased.
pub fn pattern_of(literal: &[LiteralChar]) -> Vec<PatternItem> {
    let mut out = Vec::new();
    for ch in literal {
        match (ch.c, ch.escaped) {
            ('%', false) => out.push(PatternItem::AnyRun),
            ('_', false) => out.push(PatternItem::AnyOne),
            (c, _) => out.extend(c.to_lowercase().map(PatternItem::Char)),
        }
    }
    out
}

/// Whether `text` matches `pattern` (case-insensitively), tracking every
/// text position the pattern so far can reach.
pub fn like(pattern: &[PatternItem], text: &str) -> bool {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for item in pattern {
        let mut next = vec![false; text.len() + 1];
        match item {
            PatternItem::AnyRun => {
                let mut any = false;
                for (i, slot) in next.iter_mut().enumerate() {
                    any |= reachable[i];
                    *slot = any;
                }
            }
            PatternItem::AnyOne | PatternItem::Char(_) => {
                for i in 0..text.len() {
                    let fits = match item {
                        PatternItem::Char(c) => text[i] == *c,
                        _ => true,
                    };
                    next[i + 1] = reachable[i] && fits;
                }
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Vec<PatternItem> {
        let chars: Vec<LiteralChar> = text
            .chars()
            .map(|c| LiteralChar { c, escaped: false })
            .collect();
        pattern_of(&chars)
    }

    #[test]
    fn wildcards_match_case_insensitively() {
        assert!(like(&pattern("%@COYOTE.example"), "wile@coyote.example"));
        assert!(!like(
            &pattern("%@COYOTE.example"),
            "wile@coyote.example.org"
        ));
        assert!(like(&pattern("w_le%"), "Wile E. Coyote"));
        assert!(!like(&pattern("w_le%"), "wle"));
        assert!(like(&pattern("%a%b%"), "xxAyyBzz"));
        assert!(!like(&pattern("%a%b%"), "bxa"));
        assert!(like(&pattern(""), ""));
        assert!(!like(&pattern(""), "x"));
        let escaped = [
            LiteralChar {
                c: '1',
                escaped: false,
            },
            LiteralChar {
                c: '%',
                escaped: true,
            },
            LiteralChar {
                c: '%',
                escaped: false,
            },
        ];
        assert!(like(&pattern_of(&escaped), "1% off"));
        assert!(!like(&pattern_of(&escaped), "1 off"));
        assert_eq!(text_of(&escaped), "1\\%%");
    }
}
