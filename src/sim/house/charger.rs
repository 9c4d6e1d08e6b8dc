//! An EV charger as the meter sees it: it draws a current on one or three phases and follows
//! a set-point the way a real charger does. A new set-point is noticed after `delay_ms`, then
//! the current moves linearly and reaches it `ramp_ms` later; a set-point below `min_a`
//! (6 A, the IEC 61851 minimum) pauses charging; switching between one and three phases
//! pauses for `phase_switch_ms` before the car draws again. Pure: `current_at(t)` depends
//! only on the set-points given so far and `t`.

use crate::sim::clock::Millis;
use serde::Serialize;

/// How a charger answers a new set-point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Response {
    /// Time before the charger starts to move towards a new set-point, ms.
    pub delay_ms: Millis,
    /// Time from the old to the new current once it moves, ms (0: a step).
    pub ramp_ms: Millis,
    /// Below this set-point the charger pauses (A).
    pub min_a: f64,
    /// The most the charger (or the car) draws per phase (A).
    pub max_a: f64,
    /// Pause when switching between one and three phases, ms.
    pub phase_switch_ms: Millis,
}

impl Default for Response {
    /// A step at the next telegram: what a developer driving the house by hand expects.
    fn default() -> Self {
        Response {
            delay_ms: 0,
            ramp_ms: 0,
            min_a: 6.0,
            max_a: 32.0,
            phase_switch_ms: 0,
        }
    }
}

/// A set-point: what the charger is told to draw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SetPoint {
    /// Current per phase, A (0: off).
    pub amps: f64,
    /// 1 or 3.
    pub phases: u8,
    /// A car is connected and wants to charge (off: it draws nothing whatever the amps).
    pub on: bool,
}

/// The charger's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charger {
    pub response: Response,
    /// The last set-point given.
    pub set_point: SetPoint,
    /// When the last set-point was given (device time).
    pub set_at: Millis,
    /// Current per phase and phase count when the last set-point was given.
    from_a: f64,
    from_phases: u8,
    /// Energy drawn so far, Wh (integrated by the caller at each telegram).
    pub energy_wh: f64,
}

impl Charger {
    /// A charger with a car connected and a set-point of 0 A (so it draws nothing until a
    /// set-point of at least `min_a` arrives), answering with `response`.
    pub fn new(response: Response) -> Self {
        Charger {
            response,
            set_point: SetPoint {
                amps: 0.0,
                phases: 3,
                on: true,
            },
            set_at: 0,
            from_a: 0.0,
            from_phases: 3,
            energy_wh: 0.0,
        }
    }

    /// The current the charger aims for under `sp`: 0 when off or below the minimum.
    fn target(&self, sp: SetPoint) -> f64 {
        if !sp.on || sp.amps < self.response.min_a {
            0.0
        } else {
            sp.amps.min(self.response.max_a)
        }
    }

    /// Give a new set-point at `now`; the current moves from what it draws at `now`.
    pub fn set(&mut self, sp: SetPoint, now: Millis) {
        let (a, phases) = self.current_at(now);
        self.from_a = a;
        self.from_phases = phases;
        self.set_point = sp;
        self.set_at = now;
    }

    /// Change how the charger answers; the current set-point keeps its time.
    pub fn set_response(&mut self, r: Response, now: Millis) {
        let sp = self.set_point;
        self.response = r;
        self.set(sp, now);
    }

    /// What the charger draws at `t` (≥ the last set-point's time): amps per phase and the
    /// phases it draws on.
    pub fn current_at(&self, t: Millis) -> (f64, u8) {
        let r = self.response;
        let target = self.target(self.set_point);
        let since = t.saturating_sub(self.set_at).max(0);
        let switching = self.from_phases != self.set_point.phases && self.from_a > 0.0;
        if switching {
            // Stop, wait for the contactor, then start on the new phases from zero.
            let resume = r.delay_ms.saturating_add(r.phase_switch_ms);
            if since < resume {
                return (0.0, self.from_phases);
            }
            return (
                ramp(0.0, target, since.saturating_sub(resume), r.ramp_ms),
                self.set_point.phases,
            );
        }
        if since < r.delay_ms {
            return (self.from_a, self.from_phases);
        }
        (
            ramp(
                self.from_a,
                target,
                since.saturating_sub(r.delay_ms),
                r.ramp_ms,
            ),
            self.set_point.phases,
        )
    }

    /// Amps drawn on each of L1..L3 at `t` (a one-phase charge draws on L1).
    pub fn phase_amps(&self, t: Millis) -> [f64; 3] {
        let (a, phases) = self.current_at(t);
        match phases {
            1 => [a, 0.0, 0.0],
            _ => [a; 3],
        }
    }
}

/// Linear move from `from` to `to` over `ramp_ms`, `elapsed_ms` into it.
fn ramp(from: f64, to: f64, elapsed_ms: Millis, ramp_ms: Millis) -> f64 {
    if ramp_ms <= 0 || elapsed_ms >= ramp_ms {
        return to;
    }
    from + (to - from) * (elapsed_ms as f64 / ramp_ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(amps: f64, phases: u8) -> SetPoint {
        SetPoint {
            amps,
            phases,
            on: true,
        }
    }

    #[test]
    fn a_step_by_default() {
        let mut c = Charger::new(Response::default());
        c.set(sp(16.0, 3), 1_000);
        assert_eq!(c.current_at(1_000), (16.0, 3));
        assert_eq!(c.phase_amps(2_000), [16.0; 3]);
    }

    #[test]
    fn delay_then_a_linear_ramp() {
        let r = Response {
            delay_ms: 1_000,
            ramp_ms: 5_000,
            ..Response::default()
        };
        let mut c = Charger::new(r);
        c.set(sp(16.0, 3), 0);
        assert_eq!(c.current_at(10_000).0, 16.0);
        c.set(sp(6.0, 3), 10_000);
        assert_eq!(c.current_at(10_500).0, 16.0, "still within the delay");
        assert_eq!(c.current_at(13_500).0, 11.0, "half way down the ramp");
        assert_eq!(c.current_at(16_000).0, 6.0);
        // A new set-point mid-ramp starts from where the current is.
        c.set(sp(16.0, 3), 13_500);
        assert_eq!(c.current_at(14_500).0, 11.0);
        assert_eq!(c.current_at(19_500).0, 16.0);
    }

    #[test]
    fn below_the_minimum_pauses_and_the_maximum_caps() {
        let mut c = Charger::new(Response::default());
        c.set(sp(5.9, 3), 0);
        assert_eq!(c.current_at(0).0, 0.0);
        c.set(sp(40.0, 1), 1);
        assert_eq!(c.phase_amps(1), [32.0, 0.0, 0.0]);
        c.set(
            SetPoint {
                on: false,
                ..sp(16.0, 1)
            },
            2,
        );
        assert_eq!(c.current_at(2).0, 0.0);
    }

    #[test]
    fn switching_phases_pauses_first() {
        let r = Response {
            phase_switch_ms: 10_000,
            ..Response::default()
        };
        let mut c = Charger::new(r);
        c.set(sp(10.0, 3), 0);
        c.set(sp(16.0, 1), 60_000);
        assert_eq!(c.current_at(65_000), (0.0, 3));
        assert_eq!(c.current_at(70_000), (16.0, 1));
        assert_eq!(c.phase_amps(70_000), [16.0, 0.0, 0.0]);
    }
}
