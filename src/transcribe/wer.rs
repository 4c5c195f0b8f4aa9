//! Word error rate, for tests and benchmarks that hold transcripts against a known script.
//!
//! Both sides are normalised the same way first: lower case, punctuation dropped (apostrophes inside words
//! kept), hyphens split, and numbers written as digits turned into words, so "20" and "twenty" compare equal.

/// (substitutions + deletions + insertions) / reference words, by word-level Levenshtein distance.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    edit_distance(&r, &h) as f64 / r.len() as f64
}

pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(x != y);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The words of `text`, normalised for comparison.
pub fn normalize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    let mut words = Vec::new();
    for raw in
        lower.split(|c: char| c.is_whitespace() || c == '-' || c == '—' || c == '–' || c == '/')
    {
        // "5%" → "5 percent"; "$20" → "20 dollars" reads the same either way round.
        let percent = raw.contains('%');
        let dollars = raw.contains('$');
        let word: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '.' || *c == ',')
            .collect();
        let word = word.trim_matches(|c| c == '\'' || c == '.' || c == ',');
        if word.is_empty() {
            continue;
        }
        if word
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
            && word.chars().any(|c| c.is_ascii_digit())
        {
            let digits: String = word.chars().filter(|c| *c != ',').collect();
            match digits.split_once('.') {
                Some((whole, frac)) => {
                    words.extend(number_words(whole));
                    words.push("point".into());
                    words.extend(frac.chars().flat_map(|d| number_words(&d.to_string())));
                }
                None => words.extend(number_words(&digits)),
            }
        } else {
            let clean: String = word.chars().filter(|c| *c != '.' && *c != ',').collect();
            words.push(clean);
        }
        if percent {
            words.push("percent".into());
        }
        if dollars {
            words.push("dollars".into());
        }
    }
    words
}

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// A number written with digits, as cardinal words ("105" → one hundred five). Years read as "twenty
/// nineteen" do not match "2019"; test scripts avoid them.
fn number_words(digits: &str) -> Vec<String> {
    let Ok(n) = digits.parse::<u64>() else {
        return vec![digits.to_string()];
    };
    let mut out = Vec::new();
    spell(n, &mut out);
    out.into_iter().map(String::from).collect()
}

fn spell(n: u64, out: &mut Vec<&'static str>) {
    match n {
        0..=19 => out.push(ONES[n as usize]),
        20..=99 => {
            out.push(TENS[(n / 10) as usize]);
            if n % 10 != 0 {
                out.push(ONES[(n % 10) as usize]);
            }
        }
        100..=999 => {
            out.push(ONES[(n / 100) as usize]);
            out.push("hundred");
            if n % 100 != 0 {
                spell(n % 100, out);
            }
        }
        _ => {
            for (scale, name) in [
                (1_000_000_000, "billion"),
                (1_000_000, "million"),
                (1_000, "thousand"),
            ] {
                if n >= scale {
                    spell(n / scale, out);
                    out.push(name);
                    if n % scale != 0 {
                        spell(n % scale, out);
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_after_normalisation_score_zero() {
        assert_eq!(
            word_error_rate(
                "Hello, World! It's 20 past.",
                "hello world it's twenty past"
            ),
            0.0
        );
        assert_eq!(word_error_rate("A 5% rise", "a five percent rise"), 0.0);
        assert_eq!(word_error_rate("well-known", "well known"), 0.0);
        assert_eq!(
            word_error_rate("3.5 seconds", "three point five seconds"),
            0.0
        );
        assert_eq!(
            word_error_rate("1,200 users", "one thousand two hundred users"),
            0.0
        );
    }

    #[test]
    fn substitutions_insertions_and_deletions_count_once_each() {
        assert_eq!(word_error_rate("a b c d", "a x c d"), 0.25);
        assert_eq!(word_error_rate("a b c d", "a b c d e"), 0.25);
        assert_eq!(word_error_rate("a b c d", "a c d"), 0.25);
        assert_eq!(word_error_rate("a b", ""), 1.0);
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(edit_distance(&[1, 2, 3], &[3, 2, 1]), 2);
    }

    #[test]
    fn numbers_are_spelled() {
        assert_eq!(normalize("2019"), vec!["two", "thousand", "nineteen"]);
        assert_eq!(normalize("105"), vec!["one", "hundred", "five"]);
    }
}
