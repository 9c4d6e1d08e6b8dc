//! Tests of the fleet plan: option parsing with errors naming the option, shards that
//! partition the fleet, unique identities, the mix's proportions and spread phases.

use super::*;
use crate::protocol::MeterKind;
use std::collections::HashSet;

#[test]
fn shards_partition_the_fleet_for_any_count() {
    for devices in [1u64, 7, 100, 1000, 10_007] {
        for count in 1..=9u64.min(devices) {
            let mut seen = Vec::new();
            for index in 0..count {
                let r = Shard { index, count }.range(devices).unwrap();
                let len = r.end - r.start;
                assert!(
                    len >= devices / count && len <= devices / count + 1,
                    "{devices} {index}/{count}: {r:?}"
                );
                seen.extend(r);
            }
            assert_eq!(
                seen,
                (0..devices).collect::<Vec<_>>(),
                "{devices} devices in {count} shards"
            );
        }
    }
}

#[test]
fn shard_and_count_errors_name_the_option() {
    for bad in ["", "3", "1/0", "2/2", "a/3", "1/b", "-1/3"] {
        let e = Shard::parse(bad).unwrap_err().to_string();
        assert!(e.starts_with("--shard"), "{bad}: {e}");
    }
    assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
    let e = Shard { index: 0, count: 5 }
        .range(3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more shards than the 3 devices"), "{e}");
    assert!(Shard::WHOLE
        .range(0)
        .unwrap_err()
        .to_string()
        .contains("--devices 0"));
    assert!(Shard::WHOLE.range(MAX_DEVICES + 1).is_err());
}

#[test]
fn identities_are_unique_and_the_same_in_every_shard() {
    let mix = MeterMix::parse("smr5:70,dsmr42:20,emucs:10").unwrap();
    let whole: Vec<DevicePlan> = (0..20_000)
        .map(|i| DevicePlan::derive(42, i, &mix))
        .collect();
    let serials: HashSet<&str> = whole.iter().map(|d| d.identity.serial.as_str()).collect();
    assert_eq!(serials.len(), whole.len(), "duplicate serial");
    for d in &whole {
        assert_eq!(d.identity.serial.len(), 12);
        assert!(d.identity.serial.starts_with("02584D"));
        assert_eq!(d.identity.label_password.len(), 16);
    }
    // A shard re-derives exactly its devices.
    let r = Shard { index: 3, count: 7 }.range(20_000).unwrap();
    for i in r {
        assert_eq!(DevicePlan::derive(42, i, &mix), whole[i as usize]);
    }
    // Another seed is another fleet.
    assert_ne!(DevicePlan::derive(43, 0, &mix).identity, whole[0].identity);
}

#[test]
fn the_mix_holds_in_every_shard_and_phases_spread_over_the_cadence() {
    let mix = MeterMix::parse("smr5:70, dsmr42:20 ,emucs:10").unwrap();
    for (index, count) in [(0u64, 1u64), (1, 4), (9, 10)] {
        let r = Shard { index, count }.range(10_000).unwrap();
        let n = (r.end - r.start) as f64;
        let plans: Vec<_> = r.map(|i| DevicePlan::derive(1, i, &mix)).collect();
        for (name, share) in [("smr5", 0.7), ("dsmr42", 0.2), ("emucs", 0.1)] {
            let k = MeterKind::from_name(name).unwrap();
            let got = plans.iter().filter(|p| p.kind == k).count() as f64 / n;
            assert!(
                (got - share).abs() < 0.01,
                "shard {index}/{count}: {name} {got}"
            );
        }
        // Phases: every tenth of the SMR5 second holds about a tenth of the devices.
        let smr5: Vec<_> = plans.iter().filter(|p| p.kind.name() == "smr5").collect();
        for bucket in 0..10 {
            let inside = smr5.iter().filter(|p| p.phase_ms / 100 == bucket).count() as f64;
            let share = inside / smr5.len() as f64;
            assert!(
                (share - 0.1).abs() < 0.02,
                "shard {index}/{count} phase bucket {bucket}: {share} of {}",
                smr5.len()
            );
        }
        assert!(plans
            .iter()
            .all(|p| (0..p.kind.interval_ms()).contains(&p.phase_ms)));
    }
}

#[test]
fn mix_and_ramp_errors_say_what_is_wrong() {
    let cases = [
        ("smr5", "no ':weight'"),
        ("smr6:10", "unknown meter \"smr6\""),
        ("smr5:x", "not a whole number"),
        ("smr5:1,smr5:2", "listed twice"),
        ("smr5:0", "no meter kind with a weight above 0"),
        ("", "no meter kind"),
    ];
    for (given, want) in cases {
        let e = MeterMix::parse(given).unwrap_err().to_string();
        assert!(
            e.starts_with("--meter-mix") && e.contains(want),
            "{given}: {e}"
        );
    }
    assert_eq!(parse_ramp("500/s").unwrap(), 500);
    for bad in ["500", "0/s", "x/s", "100001/s"] {
        assert!(
            parse_ramp(bad)
                .unwrap_err()
                .to_string()
                .starts_with("--ramp"),
            "{bad}"
        );
    }
    assert_eq!(MeterMix::default().parts().len(), 1);
}
