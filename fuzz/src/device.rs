//! The `device_handle` target: arbitrary bytes decoded into a sequence of device events
//! (meter bytes, time passing by any amount, power, button, LAN, config patches, resets,
//! firmware updates, MQTT link reports, Modbus reads, status requests) driven through
//! `Device::handle`, with the device's invariants checked after every step:
//! - no panic (and no endless loop: libFuzzer's timeout);
//! - the next deadline, if any, is at or after `now`;
//! - every register value served over Modbus is finite, and so is every value in the snapshot
//!   (MB-13: a value the telegram lacks reads 0, not NaN; the planted defects of
//!   `src/defects/` wrap the device elsewhere and are not fuzzed here);
//! - time never goes backwards in the effects: LED changes are in order, each between the
//!   previous step's time and now; the last valid telegram is not in the future;
//! - a Modbus read answers `qty` words or an exception; the status document builds and
//!   serialises, with a non-negative uptime.

use crate::telegrams::{meter_bytes, value_text};
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use serde_json::{json, Map, Value};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::firmware::FirmwareImage;
use smart_connect_sim::device::network::{Lan, WifiNetwork};
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::registers::{f32_abcd, f32_cdab, Template};
use smart_connect_sim::device::status::MqttLink;
use smart_connect_sim::device::{Device, DeviceConfig, Effect, Event, Variant};
use smart_connect_sim::sim::clock::Millis;
use smart_connect_sim::time::{Duration, Instant};
use std::net::Ipv4Addr;

/// At most this many steps per input (keeps one execution short).
const MAX_STEPS: usize = 48;

/// Drive a device with the events decoded from `data`, checking the invariants after each.
pub fn device_handle(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mut run) = Run::new(&mut u) else {
        return;
    };
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        match run.step(&mut u) {
            Ok(()) => {}
            Err(_) => break,
        }
    }
}

/// One device under test and the time it has been driven to.
struct Run {
    d: Device,
    now: Instant,
    /// LED changes already checked.
    led_seen: usize,
}

impl Run {
    fn new(u: &mut Unstructured<'_>) -> ArbResult<Self> {
        let variant = *u.choose(&[Variant::P1, Variant::Tic])?;
        let hw = DeviceConfig::new(variant);
        let now = match u.int_in_range(0u8..=3)? {
            0 => 0,
            1 => 1_764_720_000_000, // 2025-12-03
            2 => Millis::MAX - Millis::from(u.arbitrary::<u32>()?),
            _ => u.arbitrary::<Millis>()?,
        };
        let now = Instant::from_epoch_ms(now);
        let mut run = Run {
            d: Device::new(hw, Config::default()),
            now,
            led_seen: 0,
        };
        if u.arbitrary::<bool>()? {
            let fx = run.d.handle(Event::Power(usb()), now);
            run.check(&fx, now);
            let from = run.now;
            run.now = run.d.run_until_running(now);
            assert!(run.now >= from, "run_until_running went back in time");
            run.check(&[], from);
        }
        Ok(run)
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> ArbResult<()> {
        let before = self.now;
        let fx = match u.int_in_range(0u8..=13)? {
            0..=3 => {
                // Meter bytes, in one read or cut into up to four at the same instant.
                let bytes = meter_bytes(u)?;
                let mut fx = Vec::new();
                let mut rest = &bytes[..];
                for _ in 0..u.int_in_range(0u8..=3)? {
                    let n = usize::from(u.arbitrary::<u16>()?) % (rest.len() + 1);
                    fx.extend(self.handle(Event::SerialBytes(rest[..n].to_vec())));
                    rest = &rest[n..];
                }
                fx.extend(self.handle(Event::SerialBytes(rest.to_vec())));
                fx
            }
            4 | 5 => {
                self.now = self.now.saturating_add(Duration::from_ms(duration_ms(u)?));
                self.handle(Event::Tick)
            }
            6 => {
                let p = PowerInputs {
                    usb: u.arbitrary()?,
                    p1_supply: u.arbitrary()?,
                };
                self.handle(Event::Power(p))
            }
            7 => {
                let mut fx = self.handle(Event::ButtonDown);
                self.now = self.now.saturating_add(Duration::from_ms(duration_ms(u)?));
                fx.extend(self.handle(Event::ButtonUp));
                fx
            }
            8 => {
                let lan = lan(u)?;
                self.handle(Event::Lan(lan))
            }
            9 => {
                let patch = patch(u)?;
                self.handle(Event::PatchConfig(patch))
            }
            10 => match u.int_in_range(0u8..=2)? {
                0 => self.handle(Event::SoftReset),
                1 => {
                    let version = text(u)?;
                    self.handle(Event::FirmwareUpdate { version })
                }
                _ => {
                    let image = FirmwareImage {
                        version: text(u)?,
                        good: u.arbitrary()?,
                    };
                    self.d.offer_firmware(image);
                    Vec::new()
                }
            },
            11 => {
                let link = MqttLink {
                    connected: u.arbitrary()?,
                    last_publish: u.arbitrary::<Option<Millis>>()?.map(Instant::from_epoch_ms),
                    dropped: u.arbitrary()?,
                    error: u.arbitrary::<Option<&str>>()?.map(String::from),
                };
                self.handle(Event::Mqtt(link))
            }
            12 => {
                let (fc, addr, qty) = (u.arbitrary()?, u.arbitrary()?, u.arbitrary()?);
                if let Ok(words) = self.d.read_registers(fc, addr, qty) {
                    assert_eq!(words.len(), usize::from(qty), "read of {qty} registers");
                }
                Vec::new()
            }
            _ => {
                let at = self.now.saturating_add(Duration::from_ms(duration_ms(u)?));
                let status = self.d.status(at);
                assert!(
                    status.system.uptime_s >= 0,
                    "uptime {}",
                    status.system.uptime_s
                );
                serde_json::to_value(&status).expect("the status serialises");
                Vec::new()
            }
        };
        self.check(&fx, before);
        Ok(())
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        self.d.handle(event, self.now)
    }

    /// The invariants after a step that started at `before` and ended at `self.now`.
    fn check(&mut self, fx: &[Effect], before: Instant) {
        let now = self.now;
        if let Some(t) = self.d.next_deadline() {
            assert!(t >= now, "next deadline {t} before now {now}");
        }
        {
            assert_finite(&self.d.values().voltage_v, "snapshot");
            for e in fx {
                if let Effect::RegistersChanged(v) = e {
                    assert_finite(&v.voltage_v, "RegistersChanged voltage");
                    assert_finite(&v.current_a, "RegistersChanged current");
                    assert_finite(&v.active_power_phase_w, "RegistersChanged phase power");
                    assert_finite(&[v.active_power_w], "RegistersChanged power");
                }
            }
            let v = self.d.values();
            assert_finite(&v.current_a, "snapshot current");
            assert_finite(&v.active_power_phase_w, "snapshot phase power");
            assert_finite(&[v.active_power_w], "snapshot power");
        }
        self.check_registers();
        let changes = self.d.led().changes();
        for pair in changes.windows(2) {
            assert!(pair[0].0 <= pair[1].0, "LED changes out of order: {pair:?}");
        }
        for &(t, p) in &changes[self.led_seen..] {
            assert!(
                (before..=now).contains(&t),
                "LED change to {p:?} at {t}, outside this step ({before}..={now})"
            );
        }
        self.led_seen = changes.len();
        if let Some(t) = self.d.meter_status().last_telegram_at {
            assert!(t <= now, "last telegram at {t}, after now {now}");
        }
    }

    /// Every value register of the active template decodes to a finite number.
    fn check_registers(&self) {
        let template = self
            .d
            .active_config()
            .template()
            .unwrap_or(Template::PhoenixContactEmpro);
        for &(first, last) in template.blocks() {
            let mut addr = first;
            while addr <= last {
                let qty = (last - addr + 1).min(124);
                let words = self
                    .d
                    .read_registers(3, addr, qty)
                    .unwrap_or_else(|e| panic!("{template:?} read {addr:#x}+{qty}: {e:?}"));
                // Integer templates (ABB, EM24, Socomec, SunSpec): any word is a valid
                // integer, so the read succeeding is the check.
                let decode: Option<fn([u16; 2]) -> f32> = match template {
                    Template::PhoenixContactEmpro => Some(f32_cdab),
                    Template::EastronSdm630 | Template::EastronSdm72dm | Template::ChintDtsu666 => {
                        Some(f32_abcd)
                    }
                    _ => None,
                };
                let Some(decode) = decode else {
                    addr = match addr.checked_add(qty) {
                        Some(a) => a,
                        None => break,
                    };
                    continue;
                };
                for (i, w) in words.chunks_exact(2).enumerate() {
                    let x = decode([w[0], w[1]]);
                    let reg = usize::from(addr) + 2 * i;
                    assert!(x.is_finite(), "register {reg:#x} serves {x}");
                }
                addr = match addr.checked_add(qty) {
                    Some(a) => a,
                    None => break,
                };
            }
        }
    }
}

fn assert_finite(xs: &[f32], what: &str) {
    assert!(xs.iter().all(|x| x.is_finite()), "{what}: {xs:?}");
}

fn usb() -> PowerInputs {
    PowerInputs {
        usb: true,
        p1_supply: false,
    }
}

/// Time passing: milliseconds, seconds, days, or any amount up to the end of time.
fn duration_ms(u: &mut Unstructured<'_>) -> ArbResult<Millis> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => Millis::from(u.arbitrary::<u8>()?),
        1 => Millis::from(u.arbitrary::<u16>()?),
        2 => Millis::from(u.arbitrary::<u32>()?),
        _ => u
            .arbitrary::<Millis>()?
            .checked_abs()
            .unwrap_or(Millis::MAX),
    })
}

/// A string: a value-like text or any UTF-8 the fuzzer likes.
fn text(u: &mut Unstructured<'_>) -> ArbResult<String> {
    if u.arbitrary::<bool>()? {
        value_text(u)
    } else {
        Ok(u.arbitrary::<&str>()?.to_string())
    }
}

fn lan(u: &mut Unstructured<'_>) -> ArbResult<Lan> {
    let mut wifi = Vec::new();
    for _ in 0..u.int_in_range(0u8..=2)? {
        wifi.push(WifiNetwork {
            ssid: text(u)?,
            password: text(u)?,
            band_ghz: u.arbitrary()?,
            dhcp: u.arbitrary()?,
        });
    }
    Ok(Lan {
        ethernet_link: u.arbitrary()?,
        dhcp: u.arbitrary()?,
        internet: u.arbitrary()?,
        dhcp_pool: Ipv4Addr::from(u.arbitrary::<u32>()?),
        wifi,
    })
}

/// The configuration keys, at any level (the fuzzer puts them where it likes).
const KEYS: [&str; 18] = [
    "MeterType",
    "DefaultNetIf",
    "Ethernet",
    "WiFi",
    "MQTT",
    "IpMode",
    "StaticIPv4",
    "IpAddress",
    "Netmask",
    "Gateway",
    "DNS",
    "SSID",
    "Password",
    "Enabled",
    "Broker",
    "Site",
    "Username",
    "DHCP",
];

/// A merge-patch: usually an object of configuration keys, nested up to three levels.
fn patch(u: &mut Unstructured<'_>) -> ArbResult<Value> {
    if u.ratio(1u8, 8)? {
        return json_value(u, 0);
    }
    let mut m = Map::new();
    for _ in 0..u.int_in_range(1u8..=3)? {
        let key = u.choose(&KEYS)?.to_string();
        m.insert(key, json_value(u, 1)?);
    }
    Ok(Value::Object(m))
}

fn json_value(u: &mut Unstructured<'_>, depth: u8) -> ArbResult<Value> {
    let top = if depth >= 3 { 4 } else { 6 };
    Ok(match u.int_in_range(0u8..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary::<bool>()?),
        2 => match u.int_in_range(0u8..=2)? {
            0 => json!(u.arbitrary::<i64>()?),
            1 => json!(u.arbitrary::<u64>()?),
            _ => serde_json::Number::from_f64(u.arbitrary::<f64>()?)
                .map_or(Value::Null, Value::Number),
        },
        3 | 4 => Value::String(match u.int_in_range(0u8..=3)? {
            0 => u
                .choose(&["24", "33", "Static", "DHCP", "WiFi", "Ethernet"])?
                .to_string(),
            1 => u
                .choose(&["Eastron-SDM630", "PhoenixContact-EMPro", "mqtts://b:8883"])?
                .to_string(),
            _ => text(u)?,
        }),
        5 => {
            let mut m = Map::new();
            for _ in 0..u.int_in_range(0u8..=3)? {
                let key = if u.ratio(7u8, 8)? {
                    u.choose(&KEYS)?.to_string()
                } else {
                    text(u)?
                };
                m.insert(key, json_value(u, depth + 1)?);
            }
            Value::Object(m)
        }
        _ => {
            let mut a = Vec::new();
            for _ in 0..u.int_in_range(0u8..=2)? {
                a.push(json_value(u, depth + 1)?);
            }
            Value::Array(a)
        }
    })
}
