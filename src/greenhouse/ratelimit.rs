//! One request budget per client (= per Greenhouse account), driven by Greenhouse's
//! `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset` headers.
//!
//! Every request reserves a slot before it is sent, so concurrent callers never send more than
//! the known remaining budget; when it is spent, callers sleep until the window resets instead of
//! collecting 429s. Until the first response reveals the budget only one request is in flight, so
//! even the first window stays clean. A 429 pauses every caller for its `Retry-After`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Values above this are Unix timestamps, below it "seconds from now".
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;
/// Slack after a window's reset before sending again, for rounding on the server side.
const RESET_MARGIN: Duration = Duration::from_millis(50);
/// How often a caller re-checks while waiting on in-flight requests to report the budget.
const POLL: Duration = Duration::from_millis(10);
/// Two resets closer than this are taken to be the same window (reset values are whole seconds).
const SAME_WINDOW: Duration = Duration::from_millis(1_000);
/// Nothing is slept longer than this on the word of a header, in case of a bogus value.
const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No response yet: one request at a time until the headers tell the budget.
    Probing,
    /// Responses came without rate-limit headers: nothing to meter.
    Unmetered,
    Metered,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    limit: Option<u32>,
    /// Requests left in the current window as last reported (lowest report wins within a window).
    remaining: u32,
    /// When the current window ends; `None` after it ended until a response reports the next.
    reset_at: Option<Instant>,
    in_flight: u32,
    /// Set by a 429: nobody sends before this.
    blocked_until: Option<Instant>,
    last_limit: Option<u32>,
    last_remaining: Option<u32>,
    waited: Duration,
}

#[derive(Debug)]
pub(crate) struct RateBudget {
    state: Mutex<State>,
}

/// What the dashboards see of the budget.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BudgetSnapshot {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub waited: Duration,
}

/// A reserved slot. Reporting the response's headers (or dropping it, for a failed request)
/// gives the slot back.
pub(crate) struct Permit<'a> {
    budget: &'a RateBudget,
    done: bool,
}

impl Permit<'_> {
    /// Feeds the response's headers into the budget and releases the slot.
    pub(crate) fn complete(mut self, headers: &HeaderMap, status: u16) {
        self.done = true;
        self.budget.observe(headers, status);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut s = self.budget.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}

impl Default for RateBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl RateBudget {
    pub(crate) fn new() -> Self {
        RateBudget {
            state: Mutex::new(State {
                mode: Mode::Probing,
                limit: None,
                remaining: 0,
                reset_at: None,
                in_flight: 0,
                blocked_until: None,
                last_limit: None,
                last_remaining: None,
                waited: Duration::ZERO,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every update is a few assignments.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            limit: s.last_limit,
            remaining: s.last_remaining,
            waited: s.waited,
        }
    }

    /// Waits until a request may be sent and reserves its slot.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.try_reserve(now) {
                    None => {
                        s.in_flight += 1;
                        return Permit {
                            budget: self,
                            done: false,
                        };
                    }
                    Some(wait) => {
                        let wait = wait.min(MAX_WAIT);
                        s.waited += wait;
                        wait
                    }
                }
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "greenhouse rate budget: waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// A 429: stop everyone for `retry_after` and treat the window as spent.
    pub(crate) fn block_for(&self, retry_after: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + retry_after.min(MAX_WAIT);
        s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
        // While probing, the next answer after the pause still decides between metered and
        // unmetered; only a known budget is marked spent.
        if s.mode == Mode::Metered {
            s.remaining = 0;
        }
    }

    fn observe(&self, headers: &HeaderMap, status: u16) {
        let now = Instant::now();
        let limit = header_u32(headers, "x-ratelimit-limit");
        let remaining = header_u32(headers, "x-ratelimit-remaining");
        let reset = headers
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_reset(v, SystemTime::now()))
            .map(|d| now + d.min(MAX_WAIT));
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if limit.is_some() {
            s.last_limit = limit;
        }
        if remaining.is_some() {
            s.last_remaining = remaining;
        }
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            // Greenhouse omits Limit/Remaining on a 429; only a plain answer without any of
            // them means the account is not metered at all.
            if s.mode == Mode::Probing && status != 429 {
                s.mode = Mode::Unmetered;
            }
            return;
        }
        s.mode = Mode::Metered;
        if let Some(l) = limit {
            s.limit = Some(l);
        }
        s.update_window(now, remaining, reset);
    }
}

impl State {
    /// `None` when a slot is free now, else how long to wait before asking again.
    fn try_reserve(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Some(until - now);
            }
            self.blocked_until = None;
        }
        match self.mode {
            Mode::Unmetered => None,
            Mode::Probing => (self.in_flight > 0).then_some(POLL),
            Mode::Metered => {
                if let Some(reset) = self.reset_at {
                    if now >= reset + RESET_MARGIN {
                        // The window rolled over: the full budget is back. Its end is unknown
                        // until a response in the new window reports it.
                        self.reset_at = None;
                        self.remaining = self.limit.unwrap_or(self.remaining.max(1));
                    }
                }
                if self.remaining > self.in_flight {
                    return None;
                }
                Some(match self.reset_at {
                    Some(reset) => (reset + RESET_MARGIN).saturating_duration_since(now),
                    // Spent without a known reset: in-flight answers will tell.
                    None if self.in_flight > 0 => POLL,
                    // Spent, nothing in flight, no reset known: one probe per second.
                    None => {
                        self.remaining = 1;
                        Duration::from_secs(1)
                    }
                })
            }
        }
    }

    fn update_window(&mut self, now: Instant, remaining: Option<u32>, reset: Option<Instant>) {
        match (reset, self.reset_at) {
            // A report whose window already ended says nothing about the current one.
            (Some(new), _) if new <= now => {}
            (Some(new), Some(cur)) if new + SAME_WINDOW < cur => {}
            (Some(new), Some(cur)) if new > cur + SAME_WINDOW => {
                self.reset_at = Some(new);
                if let Some(r) = remaining {
                    self.remaining = r;
                }
            }
            (Some(new), cur) => {
                // Same window (or the first report of a new one): answers may arrive out of
                // order, so the lowest remaining is the truth.
                self.reset_at = Some(cur.map_or(new, |c| c.max(new)));
                if let Some(r) = remaining {
                    self.remaining = if cur.is_some() {
                        self.remaining.min(r)
                    } else {
                        r
                    };
                }
            }
            (None, _) => {
                if let Some(r) = remaining {
                    self.remaining = self.remaining.min(r);
                    if self.reset_at.is_none() {
                        self.remaining = r;
                    }
                }
            }
        }
    }
}

fn header_u32(headers: &HeaderMap, name: &str) -> Option<u32> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.min(f64::from(u32::MAX)) as u32)
}

/// `X-RateLimit-Reset` as a delay from now: values above 1e9 are Unix seconds, smaller values
/// seconds from now.
pub(crate) fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let v: f64 = value.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    if v > EPOCH_THRESHOLD {
        let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        Some(Duration::from_secs_f64((v - now_secs).max(0.0)))
    } else {
        Some(Duration::from_secs_f64(v))
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(limit: u32, remaining: u32, reset_in: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset_in));
        h
    }

    #[test]
    fn reset_formats() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_reset("1700000010", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_reset("1699999990", now), Some(Duration::ZERO));
        assert_eq!(parse_reset("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_reset("x", now), None);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now),
            Some(Duration::from_secs(10))
        );
    }

    #[tokio::test]
    async fn probes_then_reserves_up_to_remaining() {
        let b = RateBudget::new();
        let p = b.acquire().await;
        // While probing, a second caller must wait for the first answer.
        assert!(b.lock().try_reserve(Instant::now()).is_some());
        p.complete(&headers(5, 3, 10), 200);
        let p1 = b.acquire().await;
        let p2 = b.acquire().await;
        let p3 = b.acquire().await;
        // Three reserved against three remaining: the fourth would overshoot.
        let wait = b.lock().try_reserve(Instant::now()).unwrap();
        assert!(wait > Duration::from_secs(9));
        drop((p1, p2, p3));
        assert_eq!(b.snapshot().limit, Some(5));
    }

    #[tokio::test]
    async fn out_of_order_reports_keep_lowest_and_window_rolls() {
        let b = RateBudget::new();
        b.acquire().await.complete(&headers(5, 1, 1), 200);
        let p = b.acquire().await;
        p.complete(&headers(5, 4, 1), 200); // stale, same window
        assert_eq!(b.lock().remaining, 1);
        let start = Instant::now();
        let _p = b.acquire().await;
        let _q = b.acquire().await; // needs the next window
        assert!(start.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn a_429_while_probing_pauses_without_metering() {
        let b = RateBudget::new();
        b.acquire().await.complete(&HeaderMap::new(), 429);
        b.block_for(Duration::from_millis(200));
        let start = Instant::now();
        b.acquire().await.complete(&HeaderMap::new(), 200);
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(start.elapsed() < Duration::from_millis(900));
        assert_eq!(b.lock().mode, Mode::Unmetered);
    }

    #[tokio::test]
    async fn unmetered_when_no_headers() {
        let b = RateBudget::new();
        b.acquire().await.complete(&HeaderMap::new(), 200);
        let _a = b.acquire().await;
        let _b = b.acquire().await;
        assert_eq!(b.lock().mode, Mode::Unmetered);
    }
}
