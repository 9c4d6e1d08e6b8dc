//! The MQTT measurements payload for every captured fixture: valid against the published
//! JSON Schema (`schemas/measurements.schema.json`, MQ-14) and snapshotted with insta.

use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::measurement::Measurement;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{Device, DeviceConfig, Effect, Event, Variant};
use smart_connect_sim::time::at;

fn schema() -> smart_connect_sim::conformance::schema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/measurements.schema.json"
    ))
    .unwrap();
    smart_connect_sim::conformance::schema::Validator::new(&serde_json::from_str(&text).unwrap())
        .expect("the schema is valid JSON Schema")
}

/// Every payload the device would publish for a capture, at a fixed device time.
fn payloads(bytes: &[u8]) -> Vec<Measurement> {
    let variant = if bytes.contains(&0x02) {
        Variant::Tic
    } else {
        Variant::P1
    };
    let mut d = Device::new(DeviceConfig::new(variant), Config::default());
    let t0 = at(1_781_517_600_000);
    d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        t0,
    );
    let now = d.run_until_running(t0);
    let serial = d.identity().serial.clone();
    d.handle(Event::SerialBytes(bytes.to_vec()), now)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Measurement(r) => {
                Some(Measurement::from_reading(&r, &serial, "unknown-site", now))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn every_fixture_payload_matches_the_schema_and_its_snapshot() {
    let validator = schema();
    insta::glob!("../../fixtures", "*/*.txt", |path| {
        let list = payloads(&std::fs::read(path).unwrap());
        for m in &list {
            let v = serde_json::to_value(m).unwrap();
            if let Err(e) = validator.validate(&v) {
                panic!(
                    "{}: payload does not match the schema: {e}\n{v}",
                    path.display()
                );
            }
        }
        insta::assert_json_snapshot!(list);
    });
}

#[test]
fn the_schema_refuses_counters_and_missing_keys() {
    let validator = schema();
    let list = payloads(include_bytes!("../../fixtures/dsmr/dsmr5-kaifa-42-3ph.txt"));
    let mut v = serde_json::to_value(&list[0]).unwrap();
    assert!(validator.is_valid(&v));
    v["energy"] = serde_json::json!({"import_kwh": 1.0});
    assert!(
        !validator.is_valid(&v),
        "cumulative counters are not allowed (MQ-09)"
    );
    v.as_object_mut().unwrap().remove("energy");
    v.as_object_mut().unwrap().remove("voltage_l1_v");
    assert!(
        !validator.is_valid(&v),
        "every key is present, null when missing (MQ-10)"
    );
}
