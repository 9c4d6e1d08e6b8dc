//! The `site:` map: defaults from the meter, overrides, and errors that name the file, line,
//! column and field.

use super::tests::{assert_err, with_line};
use super::*;
use crate::sim::generator::TariffRegion;

#[test]
fn site_defaults_follow_the_meter() {
    let s = parse(
        &with_line(7, "start: 2026-01-05T12:00:00Z"),
        Path::new("t.yaml"),
    )
    .unwrap();
    assert_eq!(s.site, Site::in_region(TariffRegion::Nl));
    assert_eq!((s.site.latitude_deg, s.site.longitude_deg), (52.1, 5.2));
    let be =
        "name: x\nseed: 1\nmeter: emucs\nduration: 1m\nstart: 2026-01-01T12:00:00Z\nload: []\n";
    let s = parse(be, Path::new("t.yaml")).unwrap();
    assert_eq!(s.site, Site::in_region(TariffRegion::Be));
    let fr = be.replace("emucs", "tic-standard");
    let s = parse(&fr, Path::new("t.yaml")).unwrap();
    assert_eq!((s.site.latitude_deg, s.site.longitude_deg), (46.6, 2.2));
    assert_eq!(s.site.tariff_region, TariffRegion::Fr);
    let hc = fr.replace("load: []", "site: {tariff_region: fr-hc}\nload: []");
    let s = parse(&hc, Path::new("t.yaml")).unwrap();
    assert_eq!(s.site.tariff_region, TariffRegion::FrHc);
}

#[test]
fn site_overrides_reach_the_meter() {
    let text = with_line(
        7,
        "start: 2026-01-05T12:00:00Z\nsite: {tariff_region: be, latitude: 53.2, longitude: 6.6}",
    );
    let s = parse(&text, Path::new("t.yaml")).unwrap();
    let want = Site {
        tariff_region: TariffRegion::Be,
        latitude_deg: 53.2,
        longitude_deg: 6.6,
    };
    assert_eq!(s.site, want);
    assert_eq!(s.synthetic_meter().site(), want);
}

#[test]
fn site_values_are_checked_where_they_stand() {
    let line = |v: &str| with_line(7, &format!("start: 2026-01-05T12:00:00Z\nsite: {v}"));
    let e = assert_err(
        &line("{tariff_region: de}"),
        8,
        &[
            "site.tariff_region: ",
            "unknown tariff region `de`",
            "nl, be, fr, fr-hc",
        ],
    );
    assert_eq!(e.column, Some(23), "{e}");
    assert_err(
        &line("{tariff_region: fr}"),
        8,
        &["site.tariff_region: ", "does not fit meter smr5"],
    );
    assert_err(
        &line("{tariff_region: fr-hc}"),
        8,
        &["site.tariff_region: ", "does not fit meter smr5"],
    );
    assert_err(
        &line("{latitude: 91}"),
        8,
        &["site.latitude: ", "between -90 and 90", "got 91"],
    );
    assert_err(
        &line("{longitude: -180.5}"),
        8,
        &["site.longitude: ", "between -180 and 180"],
    );
    assert_err(
        &line("{altitude: 3}"),
        8,
        &["site: unknown field `altitude`"],
    );
    let tic = "name: x\nseed: 1\nmeter: tic-standard\nduration: 1m\n\
               start: 2026-01-01T12:00:00Z\nsite:\n  tariff_region: nl\nload: []\n";
    assert_err(tic, 7, &["site.tariff_region: ", "tic-standard"]);
}

#[test]
fn docs_scenarios_md_documents_the_site_keys() {
    let doc = include_str!("../../../docs/scenarios.md");
    for key in [
        "site",
        "tariff_region",
        "latitude",
        "longitude",
        "nl",
        "be",
        "fr",
    ] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/scenarios.md lacks `{key}`"
        );
    }
}
