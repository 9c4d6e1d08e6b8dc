//! Linky TIC frame encoder for synthetic meters: a [`Reading`] in, one byte-exact frame
//! `STX … ETX` out, with the full group set a real meter of each [`TicKind`] sends (shapes
//! copied from captured frames) and correct checksums. Values are quantised to the wire
//! resolution (whole A, V, VA, Wh, seconds) and clamped to the field widths; encoding then
//! parsing gives back every value the kind carries.

use super::checksum::group_checksum;
use super::map::NGTF_HC_HP;
use super::{Stge, CR, ETX, HT, LF, SP, STX};
use crate::protocol::time::{format_yymmddhhmmss, utc_to_local, Season, TIC_TZ};
use crate::protocol::Reading;
use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};

/// The kinds of TIC meter the encoder can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicKind {
    HistoricMono,
    HistoricTri,
    StandardMono,
    StandardTri,
    StandardMonoProducer,
    StandardTriProducer,
}

impl TicKind {
    /// Every kind, in a stable order.
    pub const ALL: [TicKind; 6] = [
        TicKind::HistoricMono,
        TicKind::HistoricTri,
        TicKind::StandardMono,
        TicKind::StandardTri,
        TicKind::StandardMonoProducer,
        TicKind::StandardTriProducer,
    ];

    /// The name used on the command line and in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            TicKind::HistoricMono => "tic-historic",
            TicKind::HistoricTri => "tic-historic-tri",
            TicKind::StandardMono => "tic-standard",
            TicKind::StandardTri => "tic-standard-tri",
            TicKind::StandardMonoProducer => "tic-producer",
            TicKind::StandardTriProducer => "tic-producer-tri",
        }
    }

    /// The kind with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Standard mode (9600 Bd, HT separators) rather than historic (1200 Bd).
    pub fn is_standard(self) -> bool {
        !matches!(self, TicKind::HistoricMono | TicKind::HistoricTri)
    }

    /// A three-phase meter.
    pub fn three_phase(self) -> bool {
        matches!(
            self,
            TicKind::HistoricTri | TicKind::StandardTri | TicKind::StandardTriProducer
        )
    }

    /// A producer-mode meter (sends SINSTI, EAIT and the other injection groups).
    pub fn producer(self) -> bool {
        matches!(
            self,
            TicKind::StandardMonoProducer | TicKind::StandardTriProducer
        )
    }
}

/// STGE of a consumer meter at rest (from a captured Linky): bits 8 and 9 are set from the
/// kind and the reading.
const STGE_BASE: u32 = 0x003A_0001;
/// PRM (delivery point) of the synthetic meters, as anonymised in the captures.
const PRM: &str = "12345678901234";
/// Horodate sent when the reading has no time (recognised as a placeholder when parsed).
const NO_TIME: &[u8; 13] = b"H000101000000";

/// Encode `reading` as one frame of a `kind` meter, index 1 counting.
pub fn encode(reading: &Reading, kind: TicKind) -> Vec<u8> {
    encode_with(reading, kind, 1)
}

/// Encode `reading` as one frame of a `kind` meter whose index `tariff` (1 = HC, 2 = HP)
/// counts now. A reading with both `import_t1_kwh` (HC) and `import_t2_kwh` (HP) is an
/// HC/HP contract (historic `OPTARIF HC..`, `HCHC`, `HCHP`, `PTEC HC..`/`HP..`; standard
/// `NGTF H PLEINE/CREUSE`, `LTARF`, `EASF01`/`EASF02`, `NTARF`); otherwise BASE.
pub fn encode_with(reading: &Reading, kind: TicKind, tariff: u8) -> Vec<u8> {
    let hp = tariff == 2;
    let mut w = Writer {
        out: Vec::with_capacity(1600),
        standard: kind.is_standard(),
    };
    w.out.push(STX);
    if kind.is_standard() {
        standard(&mut w, reading, kind, hp);
    } else {
        historic(&mut w, reading, kind.three_phase(), hp);
    }
    w.out.push(ETX);
    w.out
}

/// Builds groups with their checksums.
struct Writer {
    out: Vec<u8>,
    standard: bool,
}

impl Writer {
    /// `LF label SEP [horodate SEP] data SEP checksum CR`.
    fn group(&mut self, label: &str, horodate: Option<&[u8]>, data: &[u8]) {
        self.out.push(LF);
        let start = self.out.len();
        let sep = if self.standard { HT } else { SP };
        self.out.extend_from_slice(label.as_bytes());
        self.out.push(sep);
        if let Some(h) = horodate {
            self.out.extend_from_slice(h);
            self.out.push(sep);
        }
        self.out.extend_from_slice(data);
        if self.standard {
            self.out.push(HT);
            let ck = group_checksum(&self.out[start..]);
            self.out.push(ck);
        } else {
            let ck = group_checksum(&self.out[start..]);
            self.out.extend_from_slice(&[SP, ck]);
        }
        self.out.push(CR);
    }

    fn text(&mut self, label: &str, data: &str) {
        self.group(label, None, data.as_bytes());
    }

    /// A zero-padded number of `width` digits (clamped to fit).
    fn num(&mut self, label: &str, value: u64, width: usize) {
        self.group(label, None, fit(value, width).as_bytes());
    }

    /// A horodated number.
    fn dated(&mut self, label: &str, horodate: &[u8; 13], value: u64, width: usize) {
        self.group(label, Some(horodate), fit(value, width).as_bytes());
    }
}

/// `value` zero-padded to `width` digits, saturated at the largest value that fits.
fn fit(value: u64, width: usize) -> String {
    let max = 10u64
        .checked_pow(width as u32)
        .map_or(u64::MAX, |p| p.saturating_sub(1));
    format!("{:0width$}", value.min(max))
}

/// A measurement rounded to a whole, non-negative number (`None` and NaN → 0).
fn whole(v: Option<f32>) -> u64 {
    match v {
        Some(x) if x.is_finite() && x > 0.0 => x.round() as u64,
        _ => 0,
    }
}

/// kWh → whole Wh.
fn wh(kwh: Option<f64>) -> u64 {
    match kwh {
        Some(x) if x.is_finite() && x > 0.0 => (x * 1000.0).round() as u64,
        _ => 0,
    }
}

/// The meter id as sent: the reading's if it is printable ASCII without spaces.
fn meter_id(r: &Reading) -> &str {
    match r.meter_id.as_deref() {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()) => id,
        _ => "000000000000",
    }
}

/// Drawn apparent power, VA: `power_import_w`, else the positive part of the total.
fn drawn(r: &Reading) -> u64 {
    whole(r.power_import_w.or(r.active_power_w.map(|p| p.max(0.0))))
}

/// Injected apparent power, VA: `power_export_w`, else the negative part of the total.
fn injected(r: &Reading) -> u64 {
    whole(r.power_export_w.or(r.active_power_w.map(|p| (-p).max(0.0))))
}

/// The HC and HP indexes (Wh) of an HC/HP reading, `None` for BASE.
fn hc_hp(r: &Reading) -> Option<(u64, u64)> {
    let (hc, hp) = (r.energy.import_t1_kwh?, r.energy.import_t2_kwh?);
    Some((wh(Some(hc)), wh(Some(hp))))
}

fn historic(w: &mut Writer, r: &Reading, tri: bool, hp: bool) {
    let papp = drawn(r);
    w.text("ADCO", meter_id(r));
    let indexes = hc_hp(r);
    w.text("OPTARIF", if indexes.is_some() { "HC.." } else { "BASE" });
    w.text("ISOUSC", if tri { "20" } else { "30" });
    if let Some((hc_wh, hp_wh)) = indexes {
        w.num("HCHC", hc_wh, 9);
        w.num("HCHP", hp_wh, 9);
        w.text("PTEC", if hp { "HP.." } else { "HC.." });
    } else {
        w.num("BASE", wh(r.energy.import_kwh), 9);
        w.text("PTEC", "TH..");
    }
    if tri {
        for (label, i) in [("IINST1", 0), ("IINST2", 1), ("IINST3", 2)] {
            w.num(label, whole(r.current_a[i]), 3);
        }
        for label in ["IMAX1", "IMAX2", "IMAX3"] {
            w.text(label, "060");
        }
        w.num("PMAX", papp.max(2680), 5);
    } else {
        w.num("IINST", whole(r.current_a[0]), 3);
        w.text("IMAX", "090");
    }
    w.num("PAPP", papp, 5);
    w.text("HHPHC", "A");
    w.text("MOTDETAT", "000000");
    if tri {
        w.text("PPOT", "00");
    }
}

/// The reading's time as meter local time with its season letter (`None`: no usable time).
struct Clock {
    local: Option<(NaiveDateTime, u8)>,
}

impl Clock {
    fn new(ts: Option<i64>) -> Self {
        let local = ts
            .and_then(|ts| utc_to_local(ts, TIC_TZ))
            .and_then(|(dt, season)| {
                let letter = if season == Season::Summer { b'E' } else { b'H' };
                (2000..=2099).contains(&dt.year()).then_some((dt, letter))
            });
        Clock { local }
    }

    /// The horodate `delta` before the reading's time, floored to `floor_min` minutes
    /// (0: not floored); the placeholder when there is no time.
    fn at(&self, delta: TimeDelta, floor_min: u32) -> [u8; 13] {
        let Some((dt, letter)) = self.local else {
            return *NO_TIME;
        };
        let Some(dt) = dt.checked_sub_signed(delta) else {
            return *NO_TIME;
        };
        let dt = match dt.minute().checked_div(floor_min) {
            Some(q) => dt
                .with_second(0)
                .and_then(|d| d.with_minute(q.saturating_mul(floor_min)))
                .unwrap_or(dt),
            None => dt,
        };
        if !(2000..=2099).contains(&dt.year()) {
            return *NO_TIME;
        }
        let mut h = [0u8; 13];
        h[0] = letter;
        h[1..].copy_from_slice(format_yymmddhhmmss(&dt).as_bytes());
        h
    }
}

fn standard(w: &mut Writer, r: &Reading, kind: TicKind, hp: bool) {
    let tri = kind.three_phase();
    let producer = kind.producer();
    let phases: usize = if tri { 3 } else { 1 };
    let clock = Clock::new(r.timestamp);
    let now = clock.at(TimeDelta::zero(), 0);
    let day = TimeDelta::days(1);
    let half_hour = TimeDelta::minutes(30);
    let sinsts = drawn(r);
    let sinsti = injected(r);
    let phase_va: [u64; 3] = std::array::from_fn(|i| whole(r.active_power_phase_w[i]));
    let volts: [u64; 3] = std::array::from_fn(|i| whole(r.voltage_v[i]));
    let east = wh(r.energy.import_kwh);

    w.text("ADSC", meter_id(r));
    w.text("VTIC", "02");
    w.group("DATE", Some(&now), b"");
    let indexes = hc_hp(r);
    let easf: [u64; 2] = match indexes {
        Some((hc_wh, hp_wh)) => {
            w.text("NGTF", NGTF_HC_HP);
            w.text(
                "LTARF",
                if hp {
                    " HEURE  PLEINE  "
                } else {
                    " HEURE  CREUSE  "
                },
            );
            [hc_wh, hp_wh]
        }
        None => {
            w.text("NGTF", "      BASE      ");
            w.text("LTARF", "      BASE      ");
            [east, 0]
        }
    };
    w.num("EAST", east, 9);
    for i in 1..=10 {
        let v = match i {
            1 => easf[0],
            2 => easf[1],
            _ => 0,
        };
        w.num(&format!("EASF{i:02}"), v, 9);
    }
    for i in 1..=4 {
        w.num(&format!("EASD{i:02}"), if i == 1 { east } else { 0 }, 9);
    }
    if producer {
        w.num("EAIT", wh(r.energy.export_kwh), 9);
        for i in 1..=4 {
            w.num(&format!("ERQ{i}"), 0, 9);
        }
    }
    for i in 0..phases {
        w.num(
            &format!("IRMS{}", i.saturating_add(1)),
            whole(r.current_a[i]),
            3,
        );
    }
    for (i, v) in volts.iter().enumerate().take(phases) {
        w.num(&format!("URMS{}", i.saturating_add(1)), *v, 3);
    }
    let pref = if tri { "18" } else { "09" };
    w.text("PREF", pref);
    w.text("PCOUP", pref);
    w.num("SINSTS", sinsts, 5);
    if tri {
        for (i, va) in phase_va.iter().enumerate() {
            w.num(&format!("SINSTS{}", i.saturating_add(1)), *va, 5);
        }
    }
    w.dated("SMAXSN", &now, sinsts, 5);
    if tri {
        for (i, va) in phase_va.iter().enumerate() {
            w.dated(&format!("SMAXSN{}", i.saturating_add(1)), &now, *va, 5);
        }
    }
    w.dated("SMAXSN-1", &clock.at(day, 0), sinsts, 5);
    if tri {
        for (i, va) in phase_va.iter().enumerate() {
            w.dated(
                &format!("SMAXSN{}-1", i.saturating_add(1)),
                &clock.at(day, 0),
                *va,
                5,
            );
        }
    }
    if producer {
        w.num("SINSTI", sinsti, 5);
        w.dated("SMAXIN", &now, sinsti, 5);
        w.dated("SMAXIN-1", &clock.at(day, 0), sinsti, 5);
    }
    w.dated("CCASN", &clock.at(TimeDelta::zero(), 30), sinsts, 5);
    w.dated("CCASN-1", &clock.at(half_hour, 30), sinsts, 5);
    if producer && tri {
        w.dated("CCAIN", &clock.at(TimeDelta::zero(), 30), sinsti, 5);
        w.dated("CCAIN-1", &clock.at(half_hour, 30), sinsti, 5);
    }
    for (i, v) in volts.iter().enumerate().take(phases) {
        w.dated(
            &format!("UMOY{}", i.saturating_add(1)),
            &clock.at(TimeDelta::zero(), 10),
            *v,
            3,
        );
    }
    // Bits 10–13: the supplier's index counting now, minus one.
    let mut stge = STGE_BASE | if hp && indexes.is_some() { 1 << 10 } else { 0 };
    if producer {
        stge |= Stge::PRODUCER;
    }
    if r.exporting == Some(true) {
        stge |= Stge::NEGATIVE_ENERGY;
    }
    w.text("STGE", &format!("{stge:08X}"));
    w.text("MSG1", "PAS DE          MESSAGE         ");
    w.text("PRM", PRM);
    w.text("RELAIS", "000");
    w.text("NTARF", if hp && indexes.is_some() { "02" } else { "01" });
    w.text("NJOURF", "00");
    w.text("NJOURF+1", "00");
    w.text("PJOURF+1", &format!("00008001{}", " NONUTILE".repeat(10)));
}
