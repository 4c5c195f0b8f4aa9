//! The prompts, shared by every engine so both give the same note structure. The system message
//! holds everything that stays the same for an interview (rules, schema, kit questions), so a
//! local model reuses its KV cache for it from one chunk to the next; the user message carries
//! the summary so far and the new part of the transcript.

use super::llm_protocol::ChatMessage;
use super::schema::FactKind;
use super::transcript::{Role, Turn};

/// What the prompts need to know about the interview.
#[derive(Debug, Clone, Default)]
pub struct PromptContext {
    pub candidate: String,
    pub interviewers: Vec<String>,
    pub questions: Vec<String>,
    pub job: Option<String>,
}

pub fn system_message(ctx: &PromptContext) -> ChatMessage {
    let mut s = String::new();
    s.push_str(&format!(
        "You take notes on a job interview for the hiring team. The candidate is {}.",
        ctx.candidate
    ));
    if !ctx.interviewers.is_empty() {
        s.push_str(&format!(
            " The interviewers are {}.",
            ctx.interviewers.join(", ")
        ));
    }
    if let Some(job) = &ctx.job {
        s.push_str(&format!(" The job is {job}."));
    }
    s.push_str(
        " You read the transcript one part at a time. Each line is `[mm:ss] Name (role): words`.\n\n\
         Rules:\n\
         - Use only what the transcript says. Never add a number, date, amount or name that is not in it.\n\
         - Report what the candidate says. An interviewer's question or statement is not a fact about the candidate.\n\
         - Every item has \"at\": the [mm:ss] of the line it comes from, copied exactly.\n\
         - Keep each item short: one sentence, at most 25 words, in plain words.\n\
         - Leave out age, family, children, pregnancy, marriage, religion, nationality, ethnicity, health, disability and other personal matters. Lines marked [personal remark removed] are not to be mentioned.\n\
         - If this part says nothing about a key, leave the key out.\n",
    );
    if ctx.questions.is_empty() {
        s.push_str("\nThere are no interview kit questions; leave \"answers\" out.\n");
    } else {
        s.push_str("\nInterview kit questions:\n");
        for (i, q) in ctx.questions.iter().enumerate() {
            s.push_str(&format!("{}. {}\n", i + 1, q.trim()));
        }
    }
    s.push_str(
        "\nReply with one JSON object with these keys:\n\
         \"summary\": 2 or 3 sentences about the candidate covering the whole interview so far (the summary before this part, updated),\n\
         \"answers\": [{\"q\": question number, \"answer\": what the candidate answered, \"at\": \"mm:ss\"}] for kit questions answered in this part,\n\
         \"strengths\": [{\"text\": ..., \"at\": \"mm:ss\"}],\n\
         \"concerns\": [{\"text\": ..., \"at\": \"mm:ss\"}],\n",
    );
    for kind in FactKind::ALL {
        let shape = if kind.is_list() {
            "[{\"text\": ..., \"at\": \"mm:ss\"}]"
        } else {
            "{\"text\": ..., \"at\": \"mm:ss\"}"
        };
        s.push_str(&format!("\"{}\": {shape} ({}),\n", kind.key(), kind.hint()));
    }
    s.push_str("\"next_steps\": [{\"text\": ..., \"at\": \"mm:ss\"}] (what was agreed to happen after the interview).\n");
    ChatMessage {
        role: "system".into(),
        content: s,
    }
}

/// A transcript line as the model reads it.
pub fn transcript_line(t: &Turn) -> String {
    let role = t.role.unwrap_or(Role::Interviewer).as_str();
    format!("[{}] {} ({role}): {}", t.label(), t.speaker, t.text.trim())
}

/// The running summary is cut to this many characters in the prompt, keeping prompts bounded.
const SUMMARY_CHARS: usize = 450;

pub fn user_message(summary_so_far: &str, context: &[Turn], part: &[Turn]) -> ChatMessage {
    let mut s = String::new();
    let summary_so_far: String = summary_so_far.chars().take(SUMMARY_CHARS).collect();
    if summary_so_far.trim().is_empty() {
        s.push_str("This part is the start of the interview.\n");
    } else {
        s.push_str(&format!(
            "Summary of the interview before this part: {}\n",
            summary_so_far.trim()
        ));
    }
    if !context.is_empty() {
        s.push_str("\nThe lines just before this part (already covered):\n");
        for t in context {
            s.push_str(&transcript_line(t));
            s.push('\n');
        }
    }
    s.push_str("\nTranscript part:\n");
    for t in part {
        s.push_str(&transcript_line(t));
        s.push('\n');
    }
    s.push_str("\nReply with the JSON object only.");
    ChatMessage {
        role: "user".into(),
        content: s,
    }
}

/// Added after a reply that could not be read, so the retry is not the same prompt again.
pub fn retry_message(problem: &str) -> ChatMessage {
    ChatMessage {
        role: "user".into(),
        content: format!(
            "Your reply could not be used ({problem}). Reply again with one valid JSON object \
             with the keys asked for, and keep it short."
        ),
    }
}

/// Tokens in a text, estimated without the model's tokenizer: English runs about 4 characters a
/// token; 3 keeps a margin for names, numbers and punctuation.
pub fn estimate_tokens(text: &str) -> usize {
    text.len() / 3 + 1
}

pub fn estimate_messages(messages: &[ChatMessage]) -> usize {
    // Each message also costs a few template tokens.
    messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 8)
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn system_message_lists_questions_and_every_key() {
        let m = system_message(&PromptContext {
            candidate: "Maya Chen".into(),
            interviewers: vec!["Tom Becker".into()],
            questions: vec!["Why us?".into()],
            job: None,
        });
        assert_eq!(m.role, "system");
        assert!(m.content.contains("1. Why us?"));
        for key in ["summary", "answers", "strengths", "concerns", "next_steps"] {
            assert!(m.content.contains(&format!("\"{key}\"")), "{key}");
        }
        for kind in FactKind::ALL {
            assert!(m.content.contains(kind.key()));
        }
    }

    #[test]
    fn user_message_has_summary_context_and_lines() {
        let t = vec![Turn::new(65.0, "Maya", Some(Role::Candidate), "Hello.")];
        let m = user_message("Earlier stuff.", &t, &t);
        assert!(m.content.contains("Earlier stuff."));
        assert!(m.content.contains("[01:05] Maya (candidate): Hello."));
    }
}
