//! Property tests of the synthetic meters: for every meter kind, random seeds, start times and
//! loads (household or fixed values), the generated reading is exactly what parsing its own
//! telegram gives; the same seed gives the same bytes, another seed other bytes; the number
//! of telegrams in a duration follows the kind's interval; the tariff indicator matches the
//! registers that count and the gas value keeps its capture time. Kept small: well under 2 s.

use proptest::prelude::*;
use smart_connect_sim::protocol::{dsmr, tic, MeterKind, Reading};
use smart_connect_sim::sim::generator::{
    FixedValues, Load, LoadComponent, MeterTelegram, SyntheticMeter,
};

/// 2026-03-29T00:30:00+01:00, the night DST starts.
const T0: i64 = 1_774_740_600_000;

fn kinds() -> Vec<MeterKind> {
    MeterKind::all().collect()
}

fn kind() -> impl Strategy<Value = MeterKind> {
    prop::sample::select(kinds())
}

fn parse(kind: MeterKind, bytes: &[u8]) -> Reading {
    match kind {
        MeterKind::Dsmr(_) => dsmr::parse(bytes),
        MeterKind::Tic(_) => tic::parse(bytes),
    }
    .unwrap_or_else(|e| panic!("{}: {e}\n{}", kind.name(), String::from_utf8_lossy(bytes)))
    .reading
}

fn household() -> impl Strategy<Value = Load> {
    (
        0.0..8000.0f64,
        0.0..=1.0f64,
        0.0..12_000.0f64,
        (0u32..720, 721u32..1440),
        (
            0u32..1380,
            6.0..=32.0f64,
            prop::sample::select(vec![1u8, 3]),
            1u32..60,
        ),
        prop::array::uniform3(0.0..=4.0f64),
    )
        .prop_map(
            |(watts, noise, peak, (rise, set), (start, amps, phases, minutes), f)| {
                Load::Household(vec![
                    LoadComponent::Base { watts, noise },
                    LoadComponent::Pv { peak_watts: peak },
                    LoadComponent::PvWindow {
                        peak_watts: peak / 2.0,
                        sunrise_min: rise,
                        sunset_min: set,
                    },
                    LoadComponent::Ev {
                        start_min: start,
                        amps,
                        phases,
                        minutes,
                    },
                    LoadComponent::Imbalance {
                        l1: f[0],
                        l2: f[1],
                        l3: f[2],
                    },
                ])
            },
        )
}

fn fixed() -> impl Strategy<Value = Load> {
    (
        prop::array::uniform3(prop::option::of(180.0..260.0f64)),
        prop::array::uniform3(prop::option::of(-80.0..80.0f64)),
        prop::array::uniform3(prop::option::of(-20_000.0..20_000.0f64)),
    )
        .prop_map(|(voltage_v, current_a, power_w)| {
            Load::Fixed(FixedValues {
                voltage_v,
                current_a,
                power_w,
            })
        })
}

/// Starts from 2001 to 2098, whole seconds or not.
fn start() -> impl Strategy<Value = i64> {
    978_400_000_000i64..4_070_000_000_000
}

/// FNV-1a, stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The bytes a meter sends in `ms` of meter time.
fn stream(kind: MeterKind, load: Load, seed: u64, start: i64, ms: i64) -> (usize, Vec<u8>) {
    let mut m = SyntheticMeter::new(kind, load, seed, start);
    let mut out = Vec::new();
    let mut n = 0;
    while m.next_at() < start + ms {
        out.extend_from_slice(&m.next().bytes);
        n += 1;
    }
    (n, out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn household_reading_is_what_its_telegram_parses_to(
        kind in kind(), load in household(), seed in any::<u64>(), start in start()
    ) {
        let mut m = SyntheticMeter::new(kind, load, seed, start);
        for _ in 0..3 {
            let MeterTelegram { at, reading, bytes } = m.next();
            prop_assert_eq!(parse(kind, &bytes), reading.clone(), "{} at {}", kind.name(), at);
            prop_assert_eq!(m.reading_at(at), reading);
        }
    }

    #[test]
    fn fixed_reading_is_what_its_telegram_parses_to(
        kind in kind(), load in fixed(), seed in any::<u64>(), start in start()
    ) {
        let t = SyntheticMeter::new(kind, load, seed, start).next();
        prop_assert_eq!(parse(kind, &t.bytes), t.reading);
    }

    #[test]
    fn telegram_count_follows_the_interval(kind in kind(), seed in any::<u64>(), secs in 1i64..300) {
        let ms = secs * 1000;
        let (n, _) = stream(kind, Load::Fixed(FixedValues::default()), seed, T0, ms);
        let interval = kind.interval_ms();
        let nominal = ((ms + interval - 1) / interval) as usize;
        match kind {
            MeterKind::Dsmr(_) => prop_assert_eq!(n, nominal),
            MeterKind::Tic(_) => prop_assert!(n.abs_diff(nominal) <= 1, "{} vs {}", n, nominal),
        }
    }
}

#[test]
fn same_seed_same_bytes_over_120_s_other_seed_other_bytes() {
    let load = || {
        Load::Household(vec![
            LoadComponent::Base {
                watts: 350.0,
                noise: 0.1,
            },
            LoadComponent::Pv { peak_watts: 4200.0 },
        ])
    };
    for kind in kinds() {
        let (n, a) = stream(kind, load(), 42, T0, 120_000);
        let (_, b) = stream(kind, load(), 42, T0, 120_000);
        let (_, c) = stream(kind, load(), 43, T0, 120_000);
        assert!(
            n as i64 >= 120_000 / kind.interval_ms() - 1,
            "{}",
            kind.name()
        );
        assert_eq!(fnv1a(&a), fnv1a(&b), "{}: same seed", kind.name());
        assert_eq!(a, b);
        assert_ne!(fnv1a(&a), fnv1a(&c), "{}: other seed", kind.name());
    }
}

/// The bytes of one fixed configuration, pinned: a change means the telegram stream of the
/// same seed changed (update the value only for an intended change of generator or encoder).
#[test]
fn smr5_stream_is_pinned() {
    let load = Load::Household(vec![LoadComponent::Base {
        watts: 350.0,
        noise: 0.1,
    }]);
    let kind = MeterKind::from_name("smr5").unwrap();
    let (n, bytes) = stream(kind, load, 42, T0, 120_000);
    assert_eq!(n, 120);
    assert_eq!(fnv1a(&bytes), PINNED_SMR5_120S, "{}", fnv1a(&bytes));
}

const PINNED_SMR5_120S: u64 = 10_624_307_949_962_094_444;

/// The P1 kinds with two tariffs.
fn p1_kind() -> impl Strategy<Value = MeterKind> {
    prop::sample::select(vec![
        MeterKind::from_name("smr5").unwrap(),
        MeterKind::from_name("dsmr42").unwrap(),
        MeterKind::from_name("emucs").unwrap(),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// 20 minutes from 05:50 UTC on a random day of 2026 (06:50–07:10 local in winter time,
    /// across the 07:00 switch on weekdays): a register grows only in the tariff the earlier
    /// telegram's `0-0:96.14.0` shows; the gas value keeps its capture time, at or before
    /// the telegram.
    #[test]
    fn indicator_matches_the_counting_registers_and_gas_keeps_its_capture(
        kind in p1_kind(), load in household(), seed in any::<u64>(), day in 0i64..365
    ) {
        // 2026-01-01T05:50:00Z plus whole days.
        let start = 1_767_246_600_000 + day * 86_400_000;
        let mut m = SyntheticMeter::new(kind, load, seed, start);
        let first = m.next();
        let mut prev = (first.reading, m.registers().clone());
        while m.next_at() < start + 1_200_000 {
            let t = m.next();
            let regs = m.registers().clone();
            let (e, p) = (&t.reading.energy, &prev.0.energy);
            let t1 = e.import_t1_kwh != p.import_t1_kwh || e.export_t1_kwh != p.export_t1_kwh;
            let t2 = e.import_t2_kwh != p.import_t2_kwh || e.export_t2_kwh != p.export_t2_kwh;
            prop_assert!(!(t1 && prev.1.tariff != 1), "{} t1 grew at {}", kind.name(), t.at);
            prop_assert!(!(t2 && prev.1.tariff != 2), "{} t2 grew at {}", kind.name(), t.at);
            let text = String::from_utf8_lossy(&t.bytes).into_owned();
            let shown = format!("0-0:96.14.0({:04})", regs.tariff);
            prop_assert!(text.contains(&shown));
            let cap = regs.mbus_capture.unwrap();
            prop_assert!(cap <= t.at / 1000);
            if prev.1.mbus_capture == Some(cap) {
                prop_assert_eq!(e.gas_m3, p.gas_m3);
            }
            prev = (t.reading, regs);
        }
    }
}
