//! What a DSMR / e-MUCS telegram carries beyond the [`Reading`](super::super::Reading) the
//! device reads: the tariff indicator `0-0:96.14.0`, the M-Bus capture time of the gas value
//! (`0-1:24.2.1` / `24.2.3`), and the e-MUCS demand registers `1-0:1.4.0` (running
//! quarter-hour average), `1-0:1.6.0` (this month's peak with its time) and `0-0:98.1.0`
//! (the last 13 months' peaks), and the channel and capture time of the water and heat
//! meters on other M-Bus channels. The parser reads none of these into the `Reading`.

/// One closed month of `0-0:98.1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthPeak {
    /// End of the month (local 00:00 on the 1st of the next month), UTC epoch s.
    pub month_end: i64,
    /// End of the quarter hour with the peak, UTC epoch s.
    pub at: i64,
    /// The quarter-hour average demand, W.
    pub peak_w: f64,
}

/// The e-MUCS demand registers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Demand {
    /// `1-0:1.4.0`: energy imported in the current quarter hour so far ÷ 15 min, W.
    pub average_w: f64,
    /// `1-0:1.6.0`: this month's largest completed quarter-hour average (end of that quarter,
    /// UTC epoch s; W); `None` before the month's first quarter ends.
    pub month_peak: Option<(i64, f64)>,
    /// Start of the current month (local 00:00 on the 1st), UTC epoch s: the time `1.6.0`
    /// shows while the month has no peak yet.
    pub month_start: Option<i64>,
    /// `0-0:98.1.0`: closed months, oldest first, at most 13.
    pub history: Vec<MonthPeak>,
}

/// An M-Bus channel number, 1..=9 (one digit in `0-n:24.2.1`); gas is on 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MbusChannel(u8);

impl MbusChannel {
    /// Channel `n`, when it is 1..=9.
    pub fn new(n: u8) -> Option<Self> {
        (1..=9).contains(&n).then_some(MbusChannel(n))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The ASCII digit of the channel.
    pub fn digit(self) -> u8 {
        b'0'.wrapping_add(self.0)
    }
}

/// A water or heat meter on an M-Bus channel: where its lines go and when its value was
/// captured. Its value is the reading's `water_m3` / `heat_gj`; no value, no lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbusDevice {
    pub channel: MbusChannel,
    /// Capture time of the value (UTC epoch s); `None`: the telegram time.
    pub capture: Option<i64>,
}

/// The registers of one telegram that are not part of the reading.
#[derive(Debug, Clone, PartialEq)]
pub struct DsmrRegisters {
    /// `0-0:96.14.0`: the tariff (1 or 2) whose registers count now.
    pub tariff: u8,
    /// Capture time of the M-Bus value (UTC epoch s); `None`: the telegram time.
    pub mbus_capture: Option<i64>,
    /// The water meter (device type 7, m³); by default on channel 2.
    pub water: MbusDevice,
    /// The heat meter (device type 4, GJ); by default on channel 3.
    pub heat: MbusDevice,
    pub demand: Demand,
}

/// Water's default channel.
pub const WATER_CHANNEL: MbusChannel = MbusChannel(2);
/// Heat's default channel.
pub const HEAT_CHANNEL: MbusChannel = MbusChannel(3);

impl Default for DsmrRegisters {
    fn default() -> Self {
        DsmrRegisters {
            tariff: 1,
            mbus_capture: None,
            water: MbusDevice {
                channel: WATER_CHANNEL,
                capture: None,
            },
            heat: MbusDevice {
                channel: HEAT_CHANNEL,
                capture: None,
            },
            demand: Demand::default(),
        }
    }
}

/// Watts as DSMR kW with three decimals, `00.335*kW`.
pub(super) fn kw(w: f64) -> String {
    format!("{:06.3}*kW", w / 1000.0)
}

/// The e-MUCS `1.4.0`, `1.6.0` and `98.1.0` lines; `time` formats a UTC epoch second as
/// the telegram does, `now` is the telegram's own time field.
pub(super) fn demand_lines(s: &mut String, d: &Demand, now: &str, time: impl Fn(i64) -> String) {
    s.push_str("1-0:1.4.0(");
    s.push_str(&kw(d.average_w));
    s.push_str(")\r\n1-0:1.6.0(");
    match (d.month_peak, d.month_start) {
        (Some((at, w)), _) => {
            s.push_str(&time(at));
            s.push_str(")(");
            s.push_str(&kw(w));
        }
        (None, start) => {
            s.push_str(&start.map_or_else(|| now.to_string(), &time));
            s.push_str(")(");
            s.push_str(&kw(0.0));
        }
    }
    s.push_str(")\r\n0-0:98.1.0(");
    s.push_str(&d.history.len().to_string());
    s.push_str(")(1-0:1.6.0)(1-0:1.6.0)");
    if d.history.is_empty() {
        s.push_str("()");
    }
    for m in &d.history {
        s.push('(');
        s.push_str(&time(m.month_end));
        s.push_str(")(");
        s.push_str(&time(m.at));
        s.push_str(")(");
        s.push_str(&kw(m.peak_w));
        s.push(')');
    }
    s.push_str("\r\n");
}
