//! The clock of `run` at a numeric `--speed`: the wall clock scaled by a speed that can
//! change while it runs (the live house's pause, resume and speed controls). Changing the
//! speed re-anchors the clock at the current device time, so device time never jumps or runs
//! backwards; speed 0 is a pause. Waiters are woken when the speed changes.

use crate::sim::clock::{Clock, Millis};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy)]
struct Anchor {
    device_ms: Millis,
    wall: Instant,
    speed: f64,
}

/// A scaled wall clock whose speed can change.
#[derive(Debug)]
pub struct SpeedClock {
    anchor: Mutex<Anchor>,
    changed: watch::Sender<f64>,
}

impl SpeedClock {
    /// Reads `start` now and runs at `speed` (1.0: real time).
    pub fn new(start: Millis, speed: f64) -> Self {
        SpeedClock {
            anchor: Mutex::new(Anchor {
                device_ms: start,
                wall: Instant::now(),
                speed: speed.max(0.0),
            }),
            changed: watch::Sender::new(speed),
        }
    }

    fn anchor(&self) -> Anchor {
        *self.anchor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How fast device time runs now (0: paused).
    pub fn speed(&self) -> f64 {
        self.anchor().speed
    }

    /// Run at `speed` from now on (0 pauses).
    pub fn set_speed(&self, speed: f64) {
        let mut a = self.anchor.lock().unwrap_or_else(|p| p.into_inner());
        let now = reading(&a);
        *a = Anchor {
            device_ms: now,
            wall: Instant::now(),
            speed: speed.max(0.0),
        };
        drop(a);
        self.changed.send_replace(speed.max(0.0));
    }

    /// Wait (real time) until the clock reads `t`; follows speed changes and pauses.
    pub async fn until(&self, t: Millis) {
        let mut changes = self.changed.subscribe();
        loop {
            let a = self.anchor();
            let ahead = t.saturating_sub(reading(&a));
            if ahead <= 0 {
                return;
            }
            let wait = if a.speed > 0.0 {
                Duration::from_secs_f64(ahead as f64 / 1000.0 / a.speed)
            } else {
                Duration::from_secs(3600)
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                r = changes.changed() => if r.is_err() { return },
            }
        }
    }
}

fn reading(a: &Anchor) -> Millis {
    a.device_ms + (a.wall.elapsed().as_secs_f64() * 1000.0 * a.speed) as Millis
}

impl Clock for SpeedClock {
    fn now(&self) -> Millis {
        reading(&self.anchor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_stops_time_and_a_new_speed_continues_from_there() {
        let c = SpeedClock::new(1_000, 1.0);
        c.set_speed(0.0);
        let paused = c.now();
        assert!(paused >= 1_000);
        assert_eq!(c.now(), paused, "paused");
        c.set_speed(1e6);
        assert!(c.now() >= paused, "never backwards");
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_pause_ends() {
        let c = std::sync::Arc::new(SpeedClock::new(0, 0.0));
        let w = tokio::spawn({
            let c = std::sync::Arc::clone(&c);
            async move { c.until(5_000).await }
        });
        tokio::task::yield_now().await;
        c.set_speed(1e9);
        tokio::time::timeout(Duration::from_secs(5), w)
            .await
            .expect("woken")
            .unwrap();
        assert!(c.now() >= 5_000);
    }
}
