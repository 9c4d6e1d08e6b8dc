//! Realism of the synthetic Linky meters (#19): the HC/HP option (`site.tariff_region:
//! fr-hc`) — the period shown (historic `PTEC`, standard `LTARF`/`NTARF`) is the index that
//! counts, over a winter day, in both modes — and the HC/HP indexes rolling over at their
//! nine digits.

use super::tests::{at, kind};
use super::*;
use crate::protocol::tic;

fn house() -> Load {
    Load::Household(vec![LoadComponent::Base {
        watts: 900.0,
        noise: 0.3,
    }])
}

/// The data of group `label` in frame `bytes` (historic: space, standard: tab separated).
fn group(bytes: &[u8], label: &str) -> String {
    let text = std::str::from_utf8(bytes).unwrap();
    text.split(['\n', '\r'])
        .find_map(|line| {
            let mut parts = line.split([' ', '\t']);
            (parts.next() == Some(label)).then(|| {
                let rest: Vec<&str> = parts.collect();
                rest[..rest.len() - 1].join(" ").trim().to_string()
            })
        })
        .unwrap_or_else(|| panic!("no {label} in {text}"))
}

fn hc_meter(name: &str, seed: u64, start: &str) -> SyntheticMeter {
    let site = Site::in_region(TariffRegion::FrHc);
    SyntheticMeter::at_site(kind(name), house(), seed, at(start), site)
}

#[test]
fn hc_hp_period_is_the_index_that_counts() {
    for name in ["tic-historic", "tic-standard", "tic-producer-tri"] {
        let mut m = hc_meter(name, 4, "2026-01-14T12:00:00Z");
        let mut prev = m.next();
        let (mut hc_seen, mut hp_seen) = (false, false);
        // One telegram a minute for a day: every frame round-trips, and between two frames
        // only the index of the period shown by the first one grew.
        for _ in 0..1440 {
            let mut cur = m.next();
            for _ in 0..30 {
                cur = m.next();
            }
            assert_eq!(tic::parse(&cur.bytes).unwrap().reading, cur.reading);
            if name != "tic-historic" {
                let n = |l: &str| group(&cur.bytes, l).parse::<u64>().unwrap();
                assert_eq!(n("EAST"), n("EASF01") + n("EASF02"), "{name}");
            }
            let (e0, e1) = (prev.reading.energy, cur.reading.energy);
            let hc_grew = e1.import_t1_kwh > e0.import_t1_kwh;
            let hp_grew = e1.import_t2_kwh > e0.import_t2_kwh;
            let hour = (cur.at / 3_600_000 + 1) % 24; // CET
            let label = if name == "tic-historic" {
                group(&prev.bytes, "PTEC")
            } else {
                group(&prev.bytes, "NTARF")
            };
            let in_hc = label == "HC.." || label == "01";
            // The period changes at the hour; a frame pair spanning it may see both grow.
            if group(
                &cur.bytes,
                if name == "tic-historic" {
                    "PTEC"
                } else {
                    "NTARF"
                },
            ) == label
            {
                assert!(if in_hc { !hp_grew } else { !hc_grew }, "{name} {label}");
                assert_eq!(in_hc, !(6..22).contains(&hour), "{name} at hour {hour}");
            }
            hc_seen |= in_hc && hc_grew;
            hp_seen |= !in_hc && hp_grew;
            prev = cur;
        }
        assert!(hc_seen && hp_seen, "{name}");
    }
}

#[test]
fn hc_hp_indexes_roll_over_at_nine_digits() {
    for name in ["tic-historic", "tic-standard"] {
        let mut m = hc_meter(name, 2, "2026-01-14T23:00:00Z");
        m.counters.import_wh = [999_999_990.0, 999_999_999.0];
        let first = m.next();
        assert_eq!(first.reading.energy.import_t2_kwh, Some(999_999.999));
        let mut last = first.clone();
        for _ in 0..60 {
            last = m.next();
        }
        let hc = last.reading.energy.import_t1_kwh.unwrap();
        assert!(hc < 1.0, "{name}: HC {hc} rolled over");
        assert_eq!(tic::parse(&last.bytes).unwrap().reading, last.reading);
        let label = if name == "tic-historic" {
            "HCHC"
        } else {
            "EASF01"
        };
        assert_eq!(group(&last.bytes, label).len(), 9);
    }
}
