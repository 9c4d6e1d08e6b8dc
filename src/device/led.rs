//! The multicolour LED: one pattern per device state with the manual's timing (LED-01..09),
//! the rule that picks the pattern from the state, and a timeline that tells the colour at
//! any instant, so tests can assert on it without sampling real time.

use crate::time::{Duration, Instant};
use serde::Serialize;

/// A colour the LED can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Off,
    Red,
    Green,
    Blue,
    Orange,
}

/// The patterns of the manual's LED table and troubleshooting section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedPattern {
    /// LED-01: not powered.
    Off,
    /// LED-02: red, steady.
    Booting,
    /// LED-09: colour cycling; ends in green.
    Initialising,
    /// LED-03: green, steady.
    Normal,
    /// LED-04: blue, blinking.
    AccessPoint,
    /// LED-05: green/orange alternating at 1 Hz.
    NoIp,
    /// LED-06: red/green alternating at 1 Hz.
    NoMeterData,
    /// LED-07: blue/red alternating at 1 Hz.
    AccessPointNoMeterData,
    /// LED-08: red/orange alternating at 1 Hz.
    NoMeterDataNoIp,
}

/// Half a 1 Hz period: each colour of an alternation shows for 500 ms.
pub const HALF_PERIOD_MS: Duration = Duration::from_ms(500);
/// How long the initialising colour cycle lasts.
pub const INIT_CYCLE_MS: Duration = Duration::from_ms(2_000);
const CYCLE: [Color; 4] = [Color::Red, Color::Orange, Color::Blue, Color::Green];
/// How long each colour of the initialising cycle shows.
const CYCLE_STEP_MS: i64 = INIT_CYCLE_MS.as_ms() / CYCLE.len() as i64;
/// `HALF_PERIOD_MS` as a number, to divide by.
const HALF_MS: i64 = HALF_PERIOD_MS.as_ms();

impl LedPattern {
    /// The two colours shown in turn (the same twice for a steady light).
    pub fn colours(self) -> (Color, Color) {
        match self {
            LedPattern::Off => (Color::Off, Color::Off),
            LedPattern::Booting => (Color::Red, Color::Red),
            LedPattern::Initialising => (Color::Red, Color::Green),
            LedPattern::Normal => (Color::Green, Color::Green),
            LedPattern::AccessPoint => (Color::Blue, Color::Off),
            LedPattern::NoIp => (Color::Green, Color::Orange),
            LedPattern::NoMeterData => (Color::Red, Color::Green),
            LedPattern::AccessPointNoMeterData => (Color::Blue, Color::Red),
            LedPattern::NoMeterDataNoIp => (Color::Red, Color::Orange),
        }
    }

    /// The colour `elapsed` after the pattern started.
    pub fn colour_after(self, elapsed: Duration) -> Color {
        let elapsed = elapsed.as_ms().max(0);
        if self == LedPattern::Initialising {
            let k = usize::try_from(elapsed / CYCLE_STEP_MS).unwrap_or(usize::MAX);
            return CYCLE[k.min(CYCLE.len().saturating_sub(1))];
        }
        let (a, b) = self.colours();
        if (elapsed / HALF_MS) % 2 == 0 {
            a
        } else {
            b
        }
    }

    /// The pattern for a running device (after booting and initialising), LED-03..08.
    pub fn for_state(access_point: bool, meter_data: bool, has_ip: bool) -> LedPattern {
        match (access_point, meter_data, has_ip) {
            (true, true, _) => LedPattern::AccessPoint,
            (true, false, _) => LedPattern::AccessPointNoMeterData,
            (false, true, true) => LedPattern::Normal,
            (false, true, false) => LedPattern::NoIp,
            (false, false, true) => LedPattern::NoMeterData,
            (false, false, false) => LedPattern::NoMeterDataNoIp,
        }
    }
}

/// One stretch of time showing one colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ColourSpan {
    pub colour: Color,
    pub from: Instant,
    pub to: Instant,
}

/// How many pattern changes a timeline keeps: a pattern changes at most a few times a
/// minute in use, so this is days of history; a flapping input cannot grow it for ever (the
/// oldest half goes, and the colour before what is kept reads as off).
pub const MAX_LED_CHANGES: usize = 4096;

/// Every pattern change since power-on (up to `MAX_LED_CHANGES`), so the colour at any
/// instant can be told.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LedTimeline {
    changes: Vec<(Instant, LedPattern)>,
}

impl LedTimeline {
    /// Record that `pattern` starts at `at` (ignored when it is already showing).
    /// Changes come in time order (asserted in debug builds; a late one is taken as
    /// happening at the last change). Only the newest `MAX_LED_CHANGES` are kept.
    pub fn set(&mut self, at: Instant, pattern: LedPattern) {
        let last = self.changes.last().copied();
        debug_assert!(
            last.is_none_or(|c| at >= c.0),
            "LED change at {at} before the last one at {:?}",
            last
        );
        let at = last.map_or(at, |c| at.max(c.0));
        if last.map(|c| c.1) != Some(pattern) {
            if self.changes.len() >= MAX_LED_CHANGES {
                self.changes.drain(..MAX_LED_CHANGES / 2);
            }
            self.changes.push((at, pattern));
        }
    }

    /// The pattern showing at `t`.
    pub fn pattern_at(&self, t: Instant) -> LedPattern {
        self.changes
            .iter()
            .rev()
            .find(|c| c.0 <= t)
            .map_or(LedPattern::Off, |c| c.1)
    }

    /// The colour showing at `t`.
    pub fn colour_at(&self, t: Instant) -> Color {
        match self.changes.iter().rev().find(|c| c.0 <= t) {
            Some(&(since, p)) => p.colour_after(t.elapsed_since(since)),
            None => Color::Off,
        }
    }

    /// The pattern changes, oldest first.
    pub fn changes(&self) -> &[(Instant, LedPattern)] {
        &self.changes
    }

    /// The colours shown between `from` and `to`, merged into spans.
    pub fn spans(&self, from: Instant, to: Instant) -> Vec<ColourSpan> {
        let mut out: Vec<ColourSpan> = Vec::new();
        let mut t = from;
        while t < to {
            let colour = self.colour_at(t);
            let next = self.next_change_after(t).min(to);
            match out.last_mut() {
                Some(s) if s.colour == colour && s.to == t => s.to = next,
                _ => out.push(ColourSpan {
                    colour,
                    from: t,
                    to: next,
                }),
            }
            t = next;
        }
        out
    }

    /// The next instant after `t` at which the colour may change.
    fn next_change_after(&self, t: Instant) -> Instant {
        let next_pattern = self
            .changes
            .iter()
            .find(|c| c.0 > t)
            .map_or(Instant::MAX, |c| c.0);
        let step = match self.changes.iter().rev().find(|c| c.0 <= t) {
            Some(&(since, LedPattern::Initialising)) => {
                // Device time saturates at `Instant::MAX`: a change after it never comes.
                let k = (t.elapsed_since(since).as_ms() / CYCLE_STEP_MS).saturating_add(1);
                if k >= CYCLE.len() as i64 {
                    Instant::MAX
                } else {
                    since.saturating_add(Duration::from_ms(k.saturating_mul(CYCLE_STEP_MS)))
                }
            }
            Some(&(since, p)) if p.colours().0 != p.colours().1 => {
                let halves = (t.elapsed_since(since).as_ms() / HALF_MS).saturating_add(1);
                since.saturating_add(HALF_PERIOD_MS.saturating_mul(halves))
            }
            _ => Instant::MAX,
        };
        next_pattern.min(step)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn ms(v: i64) -> Duration {
        Duration::from_ms(v)
    }

    fn at(v: i64) -> Instant {
        Instant::from_epoch_ms(v)
    }

    #[test]
    fn alternations_are_1_hz() {
        let p = LedPattern::NoMeterData;
        assert_eq!(p.colour_after(ms(0)), Color::Red);
        assert_eq!(p.colour_after(ms(499)), Color::Red);
        assert_eq!(p.colour_after(ms(500)), Color::Green);
        assert_eq!(p.colour_after(ms(1000)), Color::Red);
        assert_eq!(LedPattern::AccessPoint.colour_after(ms(600)), Color::Off);
    }

    #[test]
    fn initialising_ends_in_green() {
        assert_eq!(LedPattern::Initialising.colour_after(ms(0)), Color::Red);
        assert_eq!(
            LedPattern::Initialising.colour_after(ms(INIT_CYCLE_MS.as_ms() - 1)),
            Color::Green
        );
        assert_eq!(
            LedPattern::Initialising.colour_after(INIT_CYCLE_MS.saturating_mul(5)),
            Color::Green
        );
    }

    #[test]
    fn state_rule() {
        assert_eq!(LedPattern::for_state(false, true, true), LedPattern::Normal);
        assert_eq!(LedPattern::for_state(false, true, false), LedPattern::NoIp);
        assert_eq!(
            LedPattern::for_state(false, false, true),
            LedPattern::NoMeterData
        );
        assert_eq!(
            LedPattern::for_state(false, false, false),
            LedPattern::NoMeterDataNoIp
        );
        assert_eq!(
            LedPattern::for_state(true, true, false),
            LedPattern::AccessPoint
        );
        assert_eq!(
            LedPattern::for_state(true, false, true),
            LedPattern::AccessPointNoMeterData
        );
    }

    #[test]
    fn timeline_spans() {
        let mut t = LedTimeline::default();
        t.set(at(0), LedPattern::Booting);
        t.set(at(3000), LedPattern::NoMeterData);
        t.set(at(3000), LedPattern::NoMeterData);
        assert_eq!(t.changes().len(), 2);
        assert_eq!(t.colour_at(at(-1)), Color::Off);
        assert_eq!(t.colour_at(at(2999)), Color::Red);
        let spans = t.spans(at(0), at(4600));
        assert_eq!(
            spans,
            vec![
                ColourSpan {
                    colour: Color::Red,
                    from: at(0),
                    to: at(3500)
                },
                ColourSpan {
                    colour: Color::Green,
                    from: at(3500),
                    to: at(4000)
                },
                ColourSpan {
                    colour: Color::Red,
                    from: at(4000),
                    to: at(4500)
                },
                ColourSpan {
                    colour: Color::Green,
                    from: at(4500),
                    to: at(4600)
                },
            ]
        );
    }

    #[test]
    fn a_flapping_led_keeps_a_bounded_history_and_the_newest_pattern() {
        let mut t = LedTimeline::default();
        for i in 0..10_000i64 {
            let p = match i % 2 {
                0 => LedPattern::NoIp,
                _ => LedPattern::Normal,
            };
            t.set(at(i * 10), p);
        }
        assert!(
            t.changes().len() <= MAX_LED_CHANGES,
            "{}",
            t.changes().len()
        );
        assert!(t.changes().len() > MAX_LED_CHANGES / 2);
        assert_eq!(t.pattern_at(at(99_990)), LedPattern::Normal);
        assert_eq!(t.pattern_at(at(99_980)), LedPattern::NoIp);
        assert!(
            t.changes().windows(2).all(|w| w[0].0 <= w[1].0),
            "in time order"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "before the last one")]
    fn a_change_out_of_time_order_is_a_bug() {
        let mut t = LedTimeline::default();
        t.set(at(1_000), LedPattern::Booting);
        t.set(at(500), LedPattern::Normal);
    }
}
