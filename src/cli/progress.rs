//! Progress of long jobs (`generate` of an hour or more, `replay` of big captures): an
//! indicatif bar on standard error showing how far the job is (meter time, or bytes of the
//! capture) and how many times faster than real time the meter time goes by. Only when standard error is a terminal and
//! the job is long enough to watch; otherwise nothing is drawn and nothing is printed, so
//! pipes, files and CI logs stay clean.

use crate::sim::clock::Millis;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Jobs shorter than this much meter time get no bar (they are over in a blink).
pub const MIN_SPAN_MS: i64 = 3_600_000;

/// Captures smaller than this get no bar.
pub const MIN_BYTES: usize = 16 << 20;

/// A progress bar over a span of meter time or over the bytes of a capture (hidden when not
/// wanted).
pub struct Progress {
    bar: ProgressBar,
    from_ms: Millis,
    started: Instant,
}

impl Progress {
    /// A bar for `what` from `from_ms` to `to_ms` of meter time, drawn on standard error when
    /// it is a terminal and the span is at least [`MIN_SPAN_MS`].
    pub fn meter_time(what: &str, from_ms: Millis, to_ms: Millis) -> Self {
        let span_ms = to_ms.saturating_sub(from_ms).max(0);
        let wanted = std::io::stderr().is_terminal() && span_ms >= MIN_SPAN_MS;
        Self::with_target(what, from_ms, to_ms, wanted)
    }

    /// A bar that is drawn only when `drawn` (tests use a hidden one).
    pub fn with_target(what: &str, from_ms: Millis, to_ms: Millis, drawn: bool) -> Self {
        let span_s = to_ms.saturating_sub(from_ms).max(0) / 1000;
        let bar = bar(
            what,
            span_s.unsigned_abs(),
            drawn,
            "{prefix} [{bar:30}] {percent:>3}% of meter time · {msg} · eta {eta}",
        );
        Progress {
            bar,
            from_ms,
            started: Instant::now(),
        }
    }

    /// A bar for `what` feeding a capture of `total` bytes, drawn on standard error when it
    /// is a terminal and the capture has at least [`MIN_BYTES`].
    pub fn bytes(what: &str, total: usize) -> Self {
        let drawn = std::io::stderr().is_terminal() && total >= MIN_BYTES;
        let bar = bar(
            what,
            total as u64,
            drawn,
            "{prefix} [{bar:30}] {bytes}/{total_bytes} · {msg} · eta {eta}",
        );
        Progress {
            bar,
            from_ms: 0,
            started: Instant::now(),
        }
    }

    /// `fed` bytes of the capture are in; its telegrams have covered `covered_ms` of meter time.
    pub fn fed(&self, fed: usize, covered_ms: i64) {
        self.bar.set_position(fed as u64);
        self.bar
            .set_message(rate(covered_ms, self.started.elapsed().as_secs_f64()));
    }

    /// The job has reached `at_ms` of meter time.
    pub fn at(&self, at_ms: Millis) {
        let done_ms = at_ms.saturating_sub(self.from_ms).max(0);
        self.bar.set_position((done_ms / 1000).unsigned_abs());
        self.bar
            .set_message(rate(done_ms, self.started.elapsed().as_secs_f64()));
    }

    /// Remove the bar (the job prints its own summary, if any).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// The bar's position: meter seconds, or bytes fed (for tests).
    pub fn position_s(&self) -> u64 {
        self.bar.position()
    }
}

impl Drop for Progress {
    /// A bar never stays on the screen after its job (also when the job is cancelled).
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A bar of `len` steps in `template`, on standard error when `drawn`, hidden otherwise.
fn bar(what: &str, len: u64, drawn: bool, template: &str) -> ProgressBar {
    let target = if drawn {
        ProgressDrawTarget::stderr_with_hz(4)
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// `1.9 d meter time at 412 000× real time`: how far and how fast.
pub fn rate(done_ms: i64, wall_s: f64) -> String {
    let done_s = done_ms as f64 / 1000.0;
    let far = if done_s >= 86_400.0 {
        format!("{:.1} d", done_s / 86_400.0)
    } else {
        format!("{:.1} h", done_s / 3600.0)
    };
    if wall_s <= 0.0 {
        return format!("{far} meter time");
    }
    format!("{far} meter time at {:.0}× real time", done_s / wall_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_how_far_and_how_fast() {
        assert_eq!(rate(0, 0.0), "0.0 h meter time");
        assert_eq!(
            rate(2 * 86_400_000, 0.5),
            "2.0 d meter time at 345600× real time"
        );
        assert_eq!(rate(5_400_000, 2.0), "1.5 h meter time at 2700× real time");
    }

    #[test]
    fn a_hidden_bar_still_tracks_meter_time() {
        let p = Progress::with_target("generate", 1_000_000, 1_000_000 + 86_400_000, false);
        p.at(1_000_000 + 3_600_000);
        assert_eq!(p.position_s(), 3600);
        p.at(0);
        assert_eq!(p.position_s(), 0, "before the start counts as the start");
        p.finish();
        let b = Progress::bytes("replay", 1000);
        b.fed(600, 7_200_000);
        assert_eq!(b.position_s(), 600);
    }
}
