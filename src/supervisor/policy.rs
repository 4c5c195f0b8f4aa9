//! The supervisor's and the bot's decisions as pure functions of time and what was observed, so
//! each rule is tested without a call, a clock or an actor.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When to start the bot for an interview: `lead` before its start.
pub fn join_at(start: DateTime<Utc>, lead: Duration) -> DateTime<Utc> {
    start - chrono::Duration::from_std(lead).unwrap_or_else(|_| chrono::Duration::zero())
}

/// The latest moment a bot may still be (re)started for an interview.
pub fn give_up_at(
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    overrun_grace: Duration,
    max_duration: Duration,
) -> DateTime<Utc> {
    let end = end.unwrap_or_else(|| start + to_chrono(max_duration));
    end + to_chrono(overrun_grace)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(365))
}

/// How failed bots are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    pub base: Duration,
    pub max: Duration,
}

/// Why a bot is not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The interview (plus its overrun grace) is over.
    InterviewOver,
    /// The failure is one a retry cannot fix (a 4xx from the media server, an unsupported URL).
    Permanent(String),
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUpReason::InterviewOver => f.write_str("the interview is over"),
            GiveUpReason::Permanent(why) => write!(f, "{why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartDecision {
    RetryAfter(Duration),
    GiveUp(GiveUpReason),
}

/// After the `failures`-th failure (1 = the first), whether and when to start the bot again.
/// Backoff doubles from `base` up to `max`, never past `deadline`; `jitter` (0..1) spreads a
/// fleet's retries so replicas do not hit a media server in step.
pub fn restart_decision(
    policy: &RestartPolicy,
    failures: u32,
    retryable: Result<(), String>,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    jitter: f64,
) -> RestartDecision {
    if let Err(why) = retryable {
        return RestartDecision::GiveUp(GiveUpReason::Permanent(why));
    }
    let exp = failures.saturating_sub(1).min(16);
    let backoff = policy
        .base
        .saturating_mul(1u32 << exp)
        .min(policy.max)
        .mul_f64(1.0 + jitter.clamp(0.0, 1.0) * 0.25);
    if now + to_chrono(backoff) >= deadline {
        return RestartDecision::GiveUp(GiveUpReason::InterviewOver);
    }
    RestartDecision::RetryAfter(backoff)
}

/// The leave rules, each off when zero.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaveRules {
    /// Leave this long after the scheduled end.
    pub overrun_grace: Duration,
    /// Leave after being the only one in the call this long (after someone had been there).
    pub alone: Duration,
    /// Leave if nobody joins within this long of the bot joining.
    pub nobody_joined: Duration,
    /// Leave after this long without speech from anyone.
    pub silence: Duration,
    /// Never stay longer than this.
    pub max_duration: Duration,
    /// Flag (not leave) a bot in a call with others that receives no audio this long.
    pub silent_watchdog: Duration,
}

/// Why a bot left the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveReason {
    ScheduledEndPassed,
    Alone(Duration),
    NobodyJoined(Duration),
    Silence(Duration),
    MaxDuration(Duration),
    StopCommand,
    /// The far end ended the call.
    CallEnded,
}

impl std::fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaveReason::ScheduledEndPassed => {
                f.write_str("the scheduled end and its overrun grace passed")
            }
            LeaveReason::Alone(d) => write!(f, "alone in the call for {} s", d.as_secs()),
            LeaveReason::NobodyJoined(d) => write!(f, "nobody joined within {} s", d.as_secs()),
            LeaveReason::Silence(d) => write!(f, "no speech for {} s", d.as_secs()),
            LeaveReason::MaxDuration(d) => {
                write!(
                    f,
                    "the maximum call duration of {} s was reached",
                    d.as_secs()
                )
            }
            LeaveReason::StopCommand => f.write_str("stopped by command"),
            LeaveReason::CallEnded => f.write_str("the call ended"),
        }
    }
}

/// What the bot knows of its call at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallObservation {
    pub now: DateTime<Utc>,
    pub joined_at: DateTime<Utc>,
    pub scheduled_end: Option<DateTime<Utc>>,
    /// Others in the call now.
    pub participants: usize,
    /// When the last other participant left (set while `participants == 0` after someone was there).
    pub alone_since: Option<DateTime<Utc>>,
    pub anyone_joined: bool,
    /// The last speech (voice activity) from anyone; `None`: nobody has spoken yet.
    pub last_speech: Option<DateTime<Utc>>,
    /// The last audio frame of any kind.
    pub last_audio: Option<DateTime<Utc>>,
    pub stop_requested: bool,
}

fn since(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

fn over(limit: Duration, elapsed: Duration) -> bool {
    !limit.is_zero() && elapsed >= limit
}

/// The first leave rule that applies, in order of precedence.
pub fn leave_reason(rules: &LeaveRules, o: &CallObservation) -> Option<LeaveReason> {
    if o.stop_requested {
        return Some(LeaveReason::StopCommand);
    }
    let in_call = since(o.now, o.joined_at);
    if over(rules.max_duration, in_call) {
        return Some(LeaveReason::MaxDuration(rules.max_duration));
    }
    if let Some(end) = o.scheduled_end {
        if o.now >= end + to_chrono(rules.overrun_grace) {
            return Some(LeaveReason::ScheduledEndPassed);
        }
    }
    if !o.anyone_joined && over(rules.nobody_joined, in_call) {
        return Some(LeaveReason::NobodyJoined(rules.nobody_joined));
    }
    if o.participants == 0 {
        if let Some(alone) = o.alone_since {
            if over(rules.alone, since(o.now, alone)) {
                return Some(LeaveReason::Alone(rules.alone));
            }
        }
    }
    if o.anyone_joined {
        let quiet_from = o.last_speech.unwrap_or(o.joined_at);
        if over(rules.silence, since(o.now, quiet_from)) {
            return Some(LeaveReason::Silence(rules.silence));
        }
    }
    None
}

/// Whether the bot is in a call with others but has received no audio at all for the watchdog's
/// period: a media problem an operator should see (the bot stays).
pub fn silent_watchdog(rules: &LeaveRules, o: &CallObservation) -> bool {
    if rules.silent_watchdog.is_zero() || o.participants == 0 {
        return false;
    }
    let from = o.last_audio.unwrap_or(o.joined_at);
    over(rules.silent_watchdog, since(o.now, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn rules() -> LeaveRules {
        LeaveRules {
            overrun_grace: Duration::from_secs(600),
            alone: Duration::from_secs(120),
            nobody_joined: Duration::from_secs(300),
            silence: Duration::from_secs(900),
            max_duration: Duration::from_secs(3 * 3600),
            silent_watchdog: Duration::from_secs(60),
        }
    }

    fn obs(now: i64) -> CallObservation {
        CallObservation {
            now: t(now),
            joined_at: t(0),
            scheduled_end: Some(t(3600)),
            participants: 2,
            alone_since: None,
            anyone_joined: true,
            last_speech: Some(t(now)),
            last_audio: Some(t(now)),
            stop_requested: false,
        }
    }

    #[test]
    fn the_bot_joins_lead_before_the_start() {
        assert_eq!(join_at(t(600), Duration::from_secs(60)), t(540));
    }

    #[test]
    fn a_busy_call_is_not_left() {
        assert_eq!(leave_reason(&rules(), &obs(1800)), None);
    }

    #[test]
    fn each_leave_rule_fires_on_its_own() {
        let mut o = obs(10);
        o.stop_requested = true;
        assert_eq!(leave_reason(&rules(), &o), Some(LeaveReason::StopCommand));

        let o = obs(3600 + 600);
        assert_eq!(
            leave_reason(&rules(), &o),
            Some(LeaveReason::ScheduledEndPassed)
        );
        assert_eq!(leave_reason(&rules(), &obs(3600 + 599)), None);

        let mut o = obs(301);
        o.anyone_joined = false;
        o.participants = 0;
        o.last_speech = None;
        assert_eq!(
            leave_reason(&rules(), &o),
            Some(LeaveReason::NobodyJoined(Duration::from_secs(300)))
        );

        let mut o = obs(1000);
        o.participants = 0;
        o.alone_since = Some(t(880));
        assert_eq!(
            leave_reason(&rules(), &o),
            Some(LeaveReason::Alone(Duration::from_secs(120)))
        );
        o.alone_since = Some(t(881));
        assert_eq!(leave_reason(&rules(), &o), None);

        let mut o = obs(2000);
        o.last_speech = Some(t(1100));
        assert_eq!(
            leave_reason(&rules(), &o),
            Some(LeaveReason::Silence(Duration::from_secs(900)))
        );

        let mut o = obs(3 * 3600);
        o.scheduled_end = None;
        assert_eq!(
            leave_reason(&rules(), &o),
            Some(LeaveReason::MaxDuration(Duration::from_secs(3 * 3600)))
        );
    }

    #[test]
    fn a_zero_rule_is_off() {
        let mut r = rules();
        r.alone = Duration::ZERO;
        let mut o = obs(5000);
        o.scheduled_end = None;
        o.participants = 0;
        o.alone_since = Some(t(0));
        o.last_speech = Some(t(4999));
        assert_eq!(leave_reason(&r, &o), None);
    }

    #[test]
    fn the_watchdog_flags_a_call_with_people_but_no_audio() {
        let mut o = obs(100);
        o.last_audio = Some(t(30));
        assert!(silent_watchdog(&rules(), &o));
        o.last_audio = Some(t(50));
        assert!(!silent_watchdog(&rules(), &o));
        o.last_audio = None;
        o.participants = 0;
        assert!(!silent_watchdog(&rules(), &o));
    }

    #[test]
    fn failures_back_off_until_the_interview_is_over() {
        let p = RestartPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        let deadline = t(1000);
        assert_eq!(
            restart_decision(&p, 1, Ok(()), t(0), deadline, 0.0),
            RestartDecision::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            restart_decision(&p, 3, Ok(()), t(0), deadline, 0.0),
            RestartDecision::RetryAfter(Duration::from_secs(20))
        );
        assert_eq!(
            restart_decision(&p, 30, Ok(()), t(0), deadline, 0.0),
            RestartDecision::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            restart_decision(&p, 2, Ok(()), t(995), deadline, 0.0),
            RestartDecision::GiveUp(GiveUpReason::InterviewOver)
        );
        assert_eq!(
            restart_decision(
                &p,
                1,
                Err("403 from the media server".into()),
                t(0),
                deadline,
                0.0
            ),
            RestartDecision::GiveUp(GiveUpReason::Permanent("403 from the media server".into()))
        );
        let RestartDecision::RetryAfter(d) = restart_decision(&p, 1, Ok(()), t(0), deadline, 1.0)
        else {
            panic!("expected a retry");
        };
        assert!(d > Duration::from_secs(5) && d <= Duration::from_millis(6250));
    }

    #[test]
    fn give_up_is_the_end_plus_grace_or_the_longest_call() {
        let g = Duration::from_secs(600);
        let max = Duration::from_secs(7200);
        assert_eq!(give_up_at(t(0), Some(t(3600)), g, max), t(4200));
        assert_eq!(give_up_at(t(0), None, g, max), t(7800));
    }
}
