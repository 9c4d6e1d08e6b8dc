//! The main fuse per phase and the overload accounting a charger team's CI asserts on.
//!
//! Each telegram's per-phase currents are held until the next telegram (what the meter
//! reported is what flowed). Accounting: seconds any phase was above the rating, per phase,
//! the worst overshoot (A and % of the rating) and the largest current per phase.
//!
//! Optional trip per a thermal model of the IEC 60898-1 type C curve, for multiples
//! `m = I / In` of the rating: no trip at or below 1.13 In (conventional non-tripping
//! current), and above it a thermal memory that fills at `(m² − 1.13²) / K` per second and
//! trips when full, so a constant `m` trips after `K / (m² − 1.13²)` s: 126 s at 1.45 In
//! (the standard: within an hour), 20 s at 2.55 In (the standard: 1–60 s); at 10 In or more
//! the magnetic release trips at once. Below 1.13 In the memory cools at the same rate.

use crate::sim::clock::Millis;
use serde::Serialize;

/// Conventional non-tripping current, as a multiple of the rating.
const NON_TRIP_M: f64 = 1.13;
/// Thermal constant `K` (s): 20 s to trip at 2.55 In.
const THERMAL_K_S: f64 = 20.0 * (2.55 * 2.55 - NON_TRIP_M * NON_TRIP_M);
/// Type C magnetic release: instantaneous at this multiple (5–10 In; the upper bound).
const MAGNETIC_M: f64 = 10.0;

/// A fuse rating and whether it trips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FuseRating {
    /// Rated current per phase, A (e.g. 25 for 3×25 A).
    pub amps: f64,
    /// Trip per the type C curve (else only account).
    pub trips: bool,
}

/// Overload figures so far.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FuseKpis {
    /// Seconds any phase was above the rating.
    pub overload_s: f64,
    /// Seconds each phase was above the rating.
    pub overload_phase_s: [f64; 3],
    /// Largest current seen per phase, A.
    pub max_current_a: [f64; 3],
    /// Worst amount above the rating, A (0: never above).
    pub worst_overshoot_a: f64,
    /// The same as a percentage of the rating.
    pub worst_overshoot_pct: f64,
    /// Times the fuse tripped.
    pub trips: u32,
}

/// The fuse of one grid connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fuse {
    pub rating: Option<FuseRating>,
    pub kpis: FuseKpis,
    /// Thermal memory per phase, 0..1 (1: trips).
    heat: [f64; 3],
    /// Currents of the last telegram and when it came.
    last: Option<(Millis, [f64; 3])>,
    /// Tripped (power lost) since this time.
    pub tripped_at: Option<Millis>,
}

impl Fuse {
    pub fn new(rating: Option<FuseRating>) -> Self {
        Fuse {
            rating,
            kpis: FuseKpis::default(),
            heat: [0.0; 3],
            last: None,
            tripped_at: None,
        }
    }

    /// A new rating from `now` on; the accounting so far stays.
    pub fn set_rating(&mut self, rating: Option<FuseRating>, now: Millis) {
        self.advance(now);
        self.rating = rating;
        self.heat = [0.0; 3];
    }

    /// Put the fuse back in (after a trip): the house has power again.
    pub fn reset(&mut self, now: Millis) {
        self.advance(now);
        self.tripped_at = None;
        self.heat = [0.0; 3];
        self.last = None;
    }

    /// Smallest margin to the rating over the phases of the last telegram, A (negative: over).
    pub fn margin_a(&self) -> Option<f64> {
        let r = self.rating?;
        let (_, amps) = self.last?;
        Some(
            amps.iter()
                .map(|a| r.amps - a)
                .fold(f64::INFINITY, f64::min),
        )
    }

    /// A telegram at `t` reported `amps` per phase. Returns true when the fuse trips now.
    pub fn observe(&mut self, t: Millis, amps: [f64; 3]) -> bool {
        if self.tripped_at.is_some() {
            return false;
        }
        let tripped = self.advance(t);
        for (max, a) in self.kpis.max_current_a.iter_mut().zip(amps) {
            *max = max.max(a);
        }
        self.last = Some((t, amps));
        if tripped {
            return true;
        }
        // The magnetic release acts on the value itself, without waiting.
        if let Some(r) = self.rating.filter(|r| r.trips && r.amps > 0.0) {
            if amps.iter().any(|a| a / r.amps >= MAGNETIC_M) {
                return self.trip(t);
            }
        }
        false
    }

    /// Account the held currents from the last telegram up to `t`; true when it tripped.
    fn advance(&mut self, t: Millis) -> bool {
        let Some((from, amps)) = self.last else {
            return false;
        };
        let (Some(r), true) = (self.rating, t > from) else {
            return false;
        };
        let dt_s = (t - from) as f64 / 1000.0;
        let over: Vec<bool> = amps.iter().map(|a| *a > r.amps).collect();
        if over.iter().any(|o| *o) {
            self.kpis.overload_s += dt_s;
        }
        for (i, a) in amps.iter().enumerate() {
            if over[i] {
                self.kpis.overload_phase_s[i] += dt_s;
            }
            let shoot = a - r.amps;
            if shoot > self.kpis.worst_overshoot_a {
                self.kpis.worst_overshoot_a = shoot;
                self.kpis.worst_overshoot_pct = 100.0 * shoot / r.amps;
            }
        }
        self.last = Some((t, amps));
        if !r.trips || r.amps <= 0.0 {
            return false;
        }
        let mut trip_at = None;
        for (h, a) in self.heat.iter_mut().zip(amps) {
            let m = a / r.amps;
            let rate = (m * m - NON_TRIP_M * NON_TRIP_M) / THERMAL_K_S;
            if rate > 0.0 && *h + rate * dt_s >= 1.0 {
                let when = from + (((1.0 - *h) / rate) * 1000.0) as Millis;
                trip_at = Some(trip_at.map_or(when, |w: Millis| w.min(when)));
            }
            *h = (*h + rate * dt_s).clamp(0.0, 1.0);
        }
        match trip_at {
            Some(when) => self.trip(when),
            None => false,
        }
    }

    fn trip(&mut self, t: Millis) -> bool {
        self.tripped_at = Some(t);
        self.kpis.trips += 1;
        true
    }
}

/// Seconds a constant current `m` times the rating takes to trip (None: never).
pub fn trip_time_s(m: f64) -> Option<f64> {
    if m >= MAGNETIC_M {
        return Some(0.0);
    }
    let rate = (m * m - NON_TRIP_M * NON_TRIP_M) / THERMAL_K_S;
    (rate > 0.0).then(|| 1.0 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuse(trips: bool) -> Fuse {
        Fuse::new(Some(FuseRating { amps: 25.0, trips }))
    }

    #[test]
    fn the_curve_meets_iec_60898_type_c() {
        assert_eq!(trip_time_s(1.13), None, "conventional non-tripping current");
        assert_eq!(trip_time_s(1.0), None);
        let t = trip_time_s(1.45).unwrap();
        assert!(t > 60.0 && t < 3600.0, "1.45 In trips within an hour: {t}");
        let t = trip_time_s(2.55).unwrap();
        assert!((1.0..=60.0).contains(&t), "2.55 In: 1–60 s, got {t}");
        assert_eq!(trip_time_s(10.0), Some(0.0));
    }

    #[test]
    fn overload_seconds_and_overshoot_are_counted() {
        let mut f = fuse(false);
        f.observe(0, [20.0, 10.0, 0.0]);
        f.observe(1_000, [30.0, 10.0, 0.0]);
        f.observe(4_000, [20.0, 27.5, 0.0]);
        f.observe(6_000, [20.0, 10.0, 0.0]);
        assert_eq!(f.kpis.overload_s, 5.0);
        assert_eq!(f.kpis.overload_phase_s, [3.0, 2.0, 0.0]);
        assert_eq!(f.kpis.worst_overshoot_a, 5.0);
        assert_eq!(f.kpis.worst_overshoot_pct, 20.0);
        assert_eq!(f.kpis.max_current_a, [30.0, 27.5, 0.0]);
        assert_eq!(f.kpis.trips, 0);
        assert_eq!(f.margin_a(), Some(5.0));
    }

    #[test]
    fn a_held_overload_trips_on_the_curve_and_reset_restores() {
        let mut f = fuse(true);
        f.observe(0, [2.55 * 25.0, 0.0, 0.0]);
        let mut t = 0;
        while !f.observe(t, [2.55 * 25.0, 0.0, 0.0]) {
            t += 1_000;
            assert!(t < 120_000, "no trip");
        }
        let at = f.tripped_at.unwrap();
        assert!((19_000..=21_000).contains(&at), "tripped at {at} ms");
        assert_eq!(f.kpis.trips, 1);
        assert!(!f.observe(t + 1_000, [0.0; 3]), "a tripped fuse stays out");
        f.reset(t + 2_000);
        assert_eq!(f.tripped_at, None);
        assert!(!f.observe(t + 3_000, [25.0; 3]));
    }

    #[test]
    fn a_short_circuit_trips_at_once_and_a_light_overload_never() {
        let mut f = fuse(true);
        assert!(f.observe(0, [260.0, 0.0, 0.0]));
        let mut f = fuse(true);
        for s in 0..7200 {
            assert!(!f.observe(s * 1_000, [28.0, 28.0, 28.0]), "1.12 In tripped");
        }
        assert!(f.kpis.overload_s > 7000.0);
    }
}
