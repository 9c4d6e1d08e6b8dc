//! One change to the live house, as the control API's `PATCH /api/house` body, the CLI and a
//! scenario's `events:` give it, checked as a whole: every wrong field is reported at once
//! (`ev.amps: must be 0..=80 A, got 99`) and a change with any error changes nothing.
//!
//! ```json
//! {"base": {"l1": {"watts": 500, "cos_phi": 0.95}, "l2": {"amps": 3}},
//!  "pv": {"peak_watts": 4000, "irradiance_w_m2": 800, "sunrise": "07:00", "sunset": "20:00"},
//!  "ev": {"on": true, "amps": 16, "phases": 3, "delay_s": 1, "ramp_s": 5, "min_amps": 6,
//!         "max_amps": 32, "phase_switch_s": 60},
//!  "battery": {"watts": -2000},
//!  "fuse": {"amps": 25, "trip": true},
//!  "meter": "emucs"}
//! ```
//! `"base": null` goes back to the scenario's base load, `"irradiance_w_m2": null` back to the
//! sun curve, `"fuse": null` removes the fuse model.

use crate::protocol::MeterKind;
use serde::Serialize;
use serde_json::{Map, Value};

/// A wrong field: its path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every wrong field of one change, joined for a one-line message.
pub fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One phase's base load: watts, or amps at the phase's power factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseLoad {
    pub watts: Option<f64>,
    pub amps: Option<f64>,
    pub cos_phi: Option<f64>,
}

/// What a change sets; `None` leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct HouseChange {
    /// `Some(None)`: back to the scenario's base load.
    pub base: Option<Option<[Option<PhaseLoad>; 3]>>,
    pub pv_peak_w: Option<f64>,
    /// `Some(None)`: back to the sun curve.
    pub pv_irradiance_w_m2: Option<Option<f64>>,
    pub pv_window_min: Option<(u32, u32)>,
    pub ev_on: Option<bool>,
    pub ev_amps: Option<f64>,
    pub ev_phases: Option<u8>,
    pub ev_delay_ms: Option<i64>,
    pub ev_ramp_ms: Option<i64>,
    pub ev_min_a: Option<f64>,
    pub ev_max_a: Option<f64>,
    pub ev_phase_switch_ms: Option<i64>,
    pub battery_w: Option<f64>,
    /// `Some(None)`: no fuse model.
    pub fuse: Option<Option<(f64, bool)>>,
    #[serde(skip)]
    pub meter: Option<MeterKind>,
}

/// What a change is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Phases of the meter now.
    pub phases: usize,
    /// The meter now (a new meter must be of the same family: P1 or TIC).
    pub meter: MeterKind,
}

/// Collects errors while reading a JSON object.
struct Reader<'a> {
    errors: &'a mut Vec<FieldError>,
}

impl Reader<'_> {
    fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// The object at `field`, reporting unknown keys.
    fn object<'v>(
        &mut self,
        field: &str,
        v: &'v Value,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(field, format!("must be an object, got {}", kind(v)));
            return None;
        };
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                let path = if field.is_empty() {
                    k.clone()
                } else {
                    format!("{field}.{k}")
                };
                self.err(&path, format!("unknown field; known: {}", known.join(", ")));
            }
        }
        Some(m)
    }

    /// A number in `lo..=hi` (with `unit` for the message).
    fn number(&mut self, field: &str, v: &Value, lo: f64, hi: f64, unit: &str) -> Option<f64> {
        match v.as_f64() {
            Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Some(x),
            Some(x) => {
                self.err(field, format!("must be {lo}..={hi}{unit}, got {x}"));
                None
            }
            None => {
                self.err(field, format!("must be a number, got {}", kind(v)));
                None
            }
        }
    }

    fn boolean(&mut self, field: &str, v: &Value) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            self.err(field, format!("must be true or false, got {}", kind(v)));
        }
        b
    }

    /// A local clock time "HH:MM" as minutes after midnight.
    fn clock(&mut self, field: &str, v: &Value) -> Option<u32> {
        let parsed = v.as_str().and_then(|s| {
            let (h, m) = s.split_once(':')?;
            let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
            (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
        });
        if parsed.is_none() {
            self.err(field, format!("must be a time \"HH:MM\", got {v}"));
        }
        parsed
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Seconds (0..=max) as milliseconds.
fn seconds(r: &mut Reader<'_>, field: &str, v: &Value, max: f64) -> Option<i64> {
    r.number(field, v, 0.0, max, " s")
        .map(|s| (s * 1000.0).round() as i64)
}

/// Read and check a change; every error at once.
pub fn parse(v: &Value, limits: Limits) -> Result<HouseChange, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut r = Reader {
        errors: &mut errors,
    };
    let mut c = HouseChange::default();
    let known = ["base", "pv", "ev", "battery", "fuse", "meter"];
    let Some(top) = r.object("", v, &known) else {
        return Err(errors);
    };
    if top.is_empty() {
        r.err(
            "",
            format!("an empty change; give one of {}", known.join(", ")),
        );
    }
    if let Some(b) = top.get("base") {
        c.base = Some(base(&mut r, b, limits.phases));
    }
    if let Some(pv) = top.get("pv") {
        if let Some(m) = r.object(
            "pv",
            pv,
            &["peak_watts", "irradiance_w_m2", "sunrise", "sunset"],
        ) {
            if let Some(x) = m.get("peak_watts") {
                c.pv_peak_w = r.number("pv.peak_watts", x, 0.0, 100_000.0, " W");
            }
            if let Some(x) = m.get("irradiance_w_m2") {
                c.pv_irradiance_w_m2 = match x {
                    Value::Null => Some(None),
                    x => r
                        .number("pv.irradiance_w_m2", x, 0.0, 1_500.0, " W/m²")
                        .map(Some),
                };
            }
            match (m.get("sunrise"), m.get("sunset")) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    let (a, b) = (r.clock("pv.sunrise", a), r.clock("pv.sunset", b));
                    if let (Some(a), Some(b)) = (a, b) {
                        if a < b {
                            c.pv_window_min = Some((a, b));
                        } else {
                            r.err("pv.sunrise", "must be before pv.sunset");
                        }
                    }
                }
                _ => r.err("pv.sunrise", "give sunrise and sunset together"),
            }
        }
    }
    if let Some(ev) = top.get("ev") {
        ev_fields(&mut r, &mut c, ev, limits.phases);
    }
    if let Some(b) = top.get("battery") {
        if let Some(m) = r.object("battery", b, &["watts"]) {
            match m.get("watts") {
                Some(x) => c.battery_w = r.number("battery.watts", x, -50_000.0, 50_000.0, " W"),
                None => r.err("battery.watts", "missing (W: + charging, − discharging)"),
            }
        }
    }
    if let Some(f) = top.get("fuse") {
        c.fuse = match f {
            Value::Null => Some(None),
            f => r.object("fuse", f, &["amps", "trip"]).and_then(|m| {
                let amps = match m.get("amps") {
                    Some(x) => r.number("fuse.amps", x, 1.0, 400.0, " A"),
                    None => {
                        r.err("fuse.amps", "missing (the rating per phase, A)");
                        None
                    }
                };
                let trip = m
                    .get("trip")
                    .map_or(Some(false), |x| r.boolean("fuse.trip", x));
                Some(Some((amps?, trip?)))
            }),
        };
    }
    if let Some(m) = top.get("meter") {
        c.meter = meter(&mut r, m, limits.meter);
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

fn base(r: &mut Reader<'_>, v: &Value, phases: usize) -> Option<[Option<PhaseLoad>; 3]> {
    if v.is_null() {
        return None;
    }
    let m = r.object("base", v, &["l1", "l2", "l3"])?;
    let mut out = [None; 3];
    for (i, name) in ["l1", "l2", "l3"].iter().enumerate() {
        let Some(p) = m.get(*name) else { continue };
        let field = format!("base.{name}");
        if i >= phases {
            r.err(&field, format!("this meter has {phases} phase(s)"));
            continue;
        }
        let Some(pm) = r.object(&field, p, &["watts", "amps", "cos_phi"]) else {
            continue;
        };
        let watts = pm
            .get("watts")
            .and_then(|x| r.number(&format!("{field}.watts"), x, 0.0, 100_000.0, " W"));
        let amps = pm
            .get("amps")
            .and_then(|x| r.number(&format!("{field}.amps"), x, 0.0, 400.0, " A"));
        let cos_phi = pm
            .get("cos_phi")
            .and_then(|x| r.number(&format!("{field}.cos_phi"), x, 0.1, 1.0, ""));
        match (pm.contains_key("watts"), pm.contains_key("amps")) {
            (true, true) => r.err(&field, "give watts or amps, not both"),
            (false, false) => r.err(&field, "give watts or amps"),
            _ => {}
        }
        out[i] = Some(PhaseLoad {
            watts,
            amps,
            cos_phi,
        });
    }
    Some(out)
}

fn ev_fields(r: &mut Reader<'_>, c: &mut HouseChange, v: &Value, phases: usize) {
    let known = [
        "on",
        "amps",
        "phases",
        "delay_s",
        "ramp_s",
        "min_amps",
        "max_amps",
        "phase_switch_s",
    ];
    let Some(m) = r.object("ev", v, &known) else {
        return;
    };
    if let Some(x) = m.get("on") {
        c.ev_on = r.boolean("ev.on", x);
    }
    if let Some(x) = m.get("amps") {
        c.ev_amps = r.number("ev.amps", x, 0.0, 80.0, " A");
    }
    if let Some(x) = m.get("phases") {
        let whole = x
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9.0);
        c.ev_phases = match whole.map(|f| f as u64) {
            Some(1) => Some(1),
            Some(3) if phases == 3 => Some(3),
            Some(3) => {
                r.err(
                    "ev.phases",
                    "3 needs a three-phase meter; this one has 1 phase",
                );
                None
            }
            _ => {
                r.err("ev.phases", format!("must be 1 or 3, got {x}"));
                None
            }
        };
    }
    if let Some(x) = m.get("delay_s") {
        c.ev_delay_ms = seconds(r, "ev.delay_s", x, 600.0);
    }
    if let Some(x) = m.get("ramp_s") {
        c.ev_ramp_ms = seconds(r, "ev.ramp_s", x, 600.0);
    }
    if let Some(x) = m.get("phase_switch_s") {
        c.ev_phase_switch_ms = seconds(r, "ev.phase_switch_s", x, 3_600.0);
    }
    if let Some(x) = m.get("min_amps") {
        c.ev_min_a = r.number("ev.min_amps", x, 0.0, 32.0, " A");
    }
    if let Some(x) = m.get("max_amps") {
        c.ev_max_a = r.number("ev.max_amps", x, 1.0, 80.0, " A");
    }
    if let (Some(lo), Some(hi)) = (c.ev_min_a, c.ev_max_a) {
        if lo > hi {
            r.err("ev.min_amps", format!("{lo} A is above ev.max_amps {hi} A"));
        }
    }
}

fn meter(r: &mut Reader<'_>, v: &Value, now: MeterKind) -> Option<MeterKind> {
    let Some(name) = v.as_str() else {
        r.err("meter", format!("must be a meter name, got {}", kind(v)));
        return None;
    };
    let Some(k) = MeterKind::from_name(name) else {
        r.err(
            "meter",
            format!("unknown meter `{name}`; valid: {}", MeterKind::names()),
        );
        return None;
    };
    let family = |k: MeterKind| matches!(k, MeterKind::Dsmr(_));
    if family(k) != family(now) {
        r.err(
            "meter",
            format!(
                "`{name}` needs the other device variant (P1 vs TIC) than this {} device; restart run with --meter {name}",
                if family(now) { "P1" } else { "TIC" }
            ),
        );
        return None;
    }
    Some(k)
}
