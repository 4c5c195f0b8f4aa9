//! Matches the display names a call shows to the people Greenhouse says are in the interview, so
//! the transcript and the notes say who said what ("Sarah L. (Acme)" is the interviewer Sarah
//! Lindqvist; "daniel.okafor" is the candidate Daniel Okafor).

use crate::notes::Role;

/// Someone Greenhouse expects in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
}

/// A participant as the notes will name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    pub name: String,
    /// `None`: nobody expected matched; the display name is kept as it is.
    pub role: Option<Role>,
}

/// Lowercase words of a name or an email's local part ("sarah.lindqvist" → sarah, lindqvist).
fn tokens(s: &str) -> Vec<String> {
    let s = s.split('@').next().unwrap_or_default();
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How well a display name fits an expected person: 0 is no match. A full first and last name
/// beats a first name and an initial, which beats a first name alone.
fn score(display: &[String], expected: &Expected) -> u32 {
    let mut best = 0;
    let mut candidates = vec![tokens(&expected.name)];
    if let Some(email) = &expected.email {
        candidates.push(tokens(email));
    }
    for want in candidates {
        if want.is_empty() || display.is_empty() {
            continue;
        }
        let mut s = 0;
        for w in &want {
            if display.iter().any(|d| d == w) {
                s += 10;
            } else if display
                .iter()
                .any(|d| d.chars().count() == 1 && w.starts_with(d.as_str()))
            {
                s += 3;
            }
        }
        // The first name must match for anything to count ("Chen" alone is not Maya Chen).
        let first = &want[0];
        if !display.iter().any(|d| d == first) && !display.iter().any(|d| d == &want.concat()) {
            s = if display.concat() == want.concat() {
                20
            } else {
                0
            };
        }
        best = best.max(s);
    }
    best
}

/// The speaker a display name stands for; ties and non-matches keep the display name.
pub fn match_speaker(display_name: &str, expected: &[Expected]) -> Speaker {
    let display = tokens(display_name);
    let mut scored: Vec<(u32, &Expected)> = expected
        .iter()
        .map(|e| (score(&display, e), e))
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    match scored.as_slice() {
        [(top, e), rest @ ..] if rest.first().is_none_or(|(s, _)| s < top) => Speaker {
            name: e.name.clone(),
            role: Some(e.role),
        },
        _ => Speaker {
            name: display_name.trim().to_string(),
            role: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Expected> {
        vec![
            Expected {
                name: "Sarah Lindqvist".into(),
                email: Some("sarah.lindqvist@acme.example".into()),
                role: Role::Interviewer,
            },
            Expected {
                name: "Sam Ortiz".into(),
                email: Some("sortiz@acme.example".into()),
                role: Role::Interviewer,
            },
            Expected {
                name: "Daniel Okafor".into(),
                email: None,
                role: Role::Candidate,
            },
        ]
    }

    fn who(display: &str) -> (String, Option<Role>) {
        let s = match_speaker(display, &people());
        (s.name, s.role)
    }

    #[test]
    fn display_names_find_their_people() {
        assert_eq!(
            who("Sarah Lindqvist"),
            ("Sarah Lindqvist".into(), Some(Role::Interviewer))
        );
        assert_eq!(
            who("Sarah L. (Acme)"),
            ("Sarah Lindqvist".into(), Some(Role::Interviewer))
        );
        assert_eq!(
            who("sarah.lindqvist"),
            ("Sarah Lindqvist".into(), Some(Role::Interviewer))
        );
        assert_eq!(
            who("DANIEL OKAFOR"),
            ("Daniel Okafor".into(), Some(Role::Candidate))
        );
        assert_eq!(
            who("Daniel"),
            ("Daniel Okafor".into(), Some(Role::Candidate))
        );
        assert_eq!(who("Sam"), ("Sam Ortiz".into(), Some(Role::Interviewer)));
    }

    #[test]
    fn unknown_or_ambiguous_names_stay_as_shown() {
        assert_eq!(who("iPhone (2)"), ("iPhone (2)".into(), None));
        assert_eq!(who("Okafor"), ("Okafor".into(), None));
        let mut twins = people();
        twins.push(Expected {
            name: "Sarah Miller".into(),
            email: None,
            role: Role::Candidate,
        });
        let s = match_speaker("Sarah", &twins);
        assert_eq!((s.name.as_str(), s.role), ("Sarah", None));
        // A full name still decides between the two Sarahs.
        assert_eq!(
            match_speaker("Sarah Miller", &twins).role,
            Some(Role::Candidate)
        );
    }
}
