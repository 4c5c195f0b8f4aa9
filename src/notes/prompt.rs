//! The prompts, shared by every engine so both give the same note structure.
//!
//! Each chunk is read in two passes with narrow tasks, which a small model follows far better than
//! one request for everything: the *facts* pass (key facts and next steps, copied as short phrases)
//! and the *assessment* pass (kit answers, strengths, concerns, the running summary). Both
//! messages put the transcript first and the task last, so the second pass shares its whole
//! prompt prefix with the first and a local model reuses the KV cache for it: the chunk is read
//! once, only the short task and the answer cost time.

use super::llm_protocol::ChatMessage;
use super::schema::FactKind;
use super::transcript::{clock, Role, Turn};

/// What the prompts need to know about the interview.
#[derive(Debug, Clone, Default)]
pub struct PromptContext {
    pub candidate: String,
    pub interviewers: Vec<String>,
    pub questions: Vec<String>,
    pub job: Option<String>,
}

/// The two passes over each chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Facts,
    Assessment,
}

pub fn system_message(ctx: &PromptContext) -> ChatMessage {
    let mut s = format!(
        "You take notes on a job interview for the hiring team. The candidate is {}.",
        ctx.candidate
    );
    if !ctx.interviewers.is_empty() {
        s.push_str(&format!(
            " The interviewer is {}.",
            ctx.interviewers.join(" and ")
        ));
    }
    if let Some(job) = &ctx.job {
        s.push_str(&format!(" The job is {job}."));
    }
    s.push_str(
        " Transcript lines look like `[mm:ss] Name (role): words`.\n\
         Rules:\n\
         - Use only what the transcript says. Never add a number, date, amount or name that is not in it.\n\
         - Report what the candidate says about themselves; an interviewer's words are not facts about the candidate.\n\
         - Every item has \"at\": the [mm:ss] of the line it comes from.\n\
         - Write short plain phrases in the third person, at most 15 words each.\n\
         - Never mention age, family, children, pregnancy, marriage, religion, nationality, ethnicity, health or disability. \
         [personal remark removed] marks text you must ignore.\n\
         - Reply with one JSON object and nothing else.",
    );
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

fn transcript_block(context: &[Turn], part: &[Turn]) -> String {
    let mut s = String::new();
    if !context.is_empty() {
        s.push_str("Earlier lines, for context only:\n");
        for t in context {
            s.push_str(&transcript_line(t));
            s.push('\n');
        }
        s.push('\n');
    }
    let from = part.first().map(|t| clock(t.start)).unwrap_or_default();
    let to = part.last().map(|t| clock(t.start)).unwrap_or_default();
    s.push_str(&format!("Transcript part ({from} to {to}):\n"));
    for t in part {
        s.push_str(&transcript_line(t));
        s.push('\n');
    }
    s
}

fn facts_task() -> String {
    let mut s = String::from(
        "\nTask: list the candidate's key facts that this part of the transcript states. Use only these keys, \
         and leave out every key this part says nothing about:\n",
    );
    for kind in FactKind::ALL {
        let shape = if kind.is_list() {
            "a list of items"
        } else {
            "one item"
        };
        s.push_str(&format!("- \"{}\": {shape}: {}\n", kind.key(), kind.hint()));
    }
    s.push_str(
        "- \"next_steps\": a list of items: what happens after the interview\n\
         An item is {\"text\": \"<short phrase, at most 12 words>\", \"at\": \"<mm:ss of the line>\"}. \
         Copy names, numbers, amounts and dates exactly as the transcript says them. \
         If this part states none of them, reply {}.",
    );
    s
}

fn assessment_task(ctx: &PromptContext, summary_so_far: &str) -> String {
    let mut s = String::new();
    let summary: String = summary_so_far.chars().take(SUMMARY_CHARS).collect();
    if summary.trim().is_empty() {
        s.push_str("\nThis part is the start of the interview.\n");
    } else {
        s.push_str(&format!(
            "\nSummary of the interview before this part: {}\n",
            summary.trim()
        ));
    }
    if ctx.questions.is_empty() {
        s.push_str("\nTask: assess the candidate in this part. Keys:\n");
    } else {
        s.push_str("\nInterview kit questions:\n");
        for (i, q) in ctx.questions.iter().enumerate() {
            s.push_str(&format!("{}. {}\n", i + 1, q.trim()));
        }
        s.push_str(
            "\nTask: assess the candidate in this part. Keys:\n\
             - \"answers\": for each kit question the interviewer asks in this part, \
             {\"q\": its number, \"answer\": the candidate's answer in one sentence, \"at\": \"mm:ss\"}. \
             Leave out questions not asked in this part.\n",
        );
    }
    s.push_str(
        "- \"strengths\": a list of {\"text\", \"at\"}: what speaks for the candidate in this part\n\
         - \"concerns\": a list of {\"text\", \"at\"}: what speaks against the candidate in this part\n\
         - \"summary\": two or three sentences about the candidate covering the whole interview so far \
         (the summary above, updated with this part)\n\
         Items are {\"text\": \"<short phrase, at most 15 words>\", \"at\": \"<mm:ss of the line>\"}. \
         Write about the candidate in the third person; do not copy whole sentences.",
    );
    s
}

/// The user message of one pass over one chunk.
pub fn user_message(
    pass: Pass,
    ctx: &PromptContext,
    summary_so_far: &str,
    context: &[Turn],
    part: &[Turn],
) -> ChatMessage {
    let mut s = transcript_block(context, part);
    s.push_str(&match pass {
        Pass::Facts => facts_task(),
        Pass::Assessment => assessment_task(ctx, summary_so_far),
    });
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

/// Tokens the prompt takes besides the transcript part itself (system message, the longer task,
/// the running summary), for cutting chunks that fit the context.
pub fn overhead_tokens(ctx: &PromptContext) -> usize {
    let system = estimate_messages(&[system_message(ctx)]);
    let tasks = estimate_tokens(&facts_task()).max(estimate_tokens(&assessment_task(ctx, "")));
    system + tasks + estimate_tokens(&"x".repeat(SUMMARY_CHARS)) + 40
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ctx() -> PromptContext {
        PromptContext {
            candidate: "Maya Chen".into(),
            interviewers: vec!["Tom Becker".into()],
            questions: vec!["Why us?".into()],
            job: None,
        }
    }

    #[test]
    fn both_passes_share_the_transcript_prefix() {
        let t = vec![Turn::new(65.0, "Maya", Some(Role::Candidate), "Hello.")];
        let a = user_message(Pass::Facts, &ctx(), "", &[], &t);
        let b = user_message(Pass::Assessment, &ctx(), "Earlier stuff.", &t, &t);
        assert!(a
            .content
            .starts_with("Transcript part (01:05 to 01:05):\n[01:05] Maya (candidate): Hello.\n"));
        assert!(b
            .content
            .contains("Earlier lines, for context only:\n[01:05]"));
        assert!(b
            .content
            .contains("Summary of the interview before this part: Earlier stuff."));
        assert!(b.content.contains("1. Why us?"));
        for kind in FactKind::ALL {
            assert!(a.content.contains(&format!("\"{}\"", kind.key())));
        }
        for key in ["answers", "strengths", "concerns", "summary"] {
            assert!(b.content.contains(&format!("\"{key}\"")), "{key}");
        }
        let shared = system_message(&ctx());
        assert_eq!(shared.role, "system");
        assert!(overhead_tokens(&ctx()) > estimate_messages(&[shared]));
    }
}
