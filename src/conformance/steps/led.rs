//! LED steps (LED-01..09): the colour is sampled every 250 ms, as a person or a photodiode
//! watching the LED would, while time (and the meter) goes on. Tolerances in real time (a
//! device on a bench): a blink phase may look one sample (250 ms) longer or shorter, and the
//! first and last sample of a steady colour may show the colour before or after it.

use super::bench::{assert_alternates, colour, runs, sample_led, SAMPLE_MS, SAMPLE_WINDOW_MS};
use super::world::DeviceWorld;
use crate::device::led::Color;
use cucumber::then;

#[then(regex = r"^the LED is off$")]
async fn off(w: &mut DeviceWorld) {
    let s = sample_led(w, SAMPLE_WINDOW_MS).await;
    assert!(s.iter().all(|&c| c == Color::Off), "LED showed {s:?}");
}

#[then(regex = r"^the LED is steady (red|green|blue|orange)(?: for (\d+) seconds)?$")]
async fn steady(w: &mut DeviceWorld, name: String, secs: String) {
    let want = colour(&name);
    let window = secs.parse::<i64>().map_or(SAMPLE_WINDOW_MS, |s| s * 1000);
    let s = sample_led(w, window).await;
    // In real time the window's edges may catch the colour before or after.
    let edge = usize::from(w.target().timing_tolerance_ms() > 0);
    let inner = &s[edge.min(s.len())..s.len().saturating_sub(edge)];
    assert!(
        inner.iter().all(|&c| c == want),
        "LED showed {s:?} over {window} ms, expected steady {want:?}"
    );
}

#[then(regex = r"^the LED alternates (red|green|blue|orange) and (red|green|blue|orange) at 1 Hz$")]
async fn alternates(w: &mut DeviceWorld, a: String, b: String) {
    let s = sample_led(w, SAMPLE_WINDOW_MS).await;
    let tol = w.target().timing_tolerance_ms();
    assert_alternates(&s, colour(&a), colour(&b), tol);
}

#[then(regex = r"^the LED blinks blue$")]
async fn blinks_blue(w: &mut DeviceWorld) {
    let s = sample_led(w, SAMPLE_WINDOW_MS).await;
    let tol = w.target().timing_tolerance_ms();
    assert_alternates(&s, Color::Blue, Color::Off, tol);
}

/// LED-09: several colours one after the other, none of them off, the last one green.
#[then(regex = r"^the LED then cycles through colours for (\d+) seconds, ending in green$")]
async fn cycles(w: &mut DeviceWorld, secs: i64) {
    let s = sample_led(w, secs * 1000).await;
    let r = runs(&s);
    assert!(!s.contains(&Color::Off), "the LED went off: {s:?}");
    let mut distinct: Vec<Color> = r.iter().map(|x| x.0).collect();
    distinct.sort_by_key(|c| *c as u8);
    distinct.dedup();
    assert!(
        distinct.len() >= 3,
        "the LED showed {s:?}: not a colour cycle"
    );
    // In real time the window may end late, after the cycle: the final green may last longer.
    let judged = if w.target().timing_tolerance_ms() > 0 {
        &r[..r.len().saturating_sub(1)]
    } else {
        &r[..]
    };
    assert!(
        judged.iter().all(|&(_, n)| (n as i64) * SAMPLE_MS <= 1_000),
        "a colour stayed on longer than a cycle step: {s:?}"
    );
    assert_eq!(s.last(), Some(&Color::Green), "the cycle ended in {s:?}");
}
