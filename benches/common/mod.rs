//! What the parse benches share: the device-like framer + parse pipeline and the `dsmr5` crate
//! doing the same work, so the wall-clock bench (`parse.rs`) and the instruction-count bench
//! (`instructions.rs`) compare exactly the same code.

use smart_connect_sim::protocol::framer::{Event, Framer, FramerMode};
use smart_connect_sim::protocol::{ParseOptions, Protocol, Reading, Telegram};

/// Iskra AM550T SMR 5.0 three-phase (778 bytes): the headline telegram.
pub const SMR5: &[u8] = include_bytes!("../../fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt");

/// A long-lived framer (as on the device) fed one read at a time; every frame is parsed the way
/// the device's meter input parses it (`MeterInput::on_bytes`): into one reused telegram
/// (`Frame::parse_into`), the frame's buffer handed back to the framer (`Framer::recycle`),
/// and the reading moved out (on the device it leaves with the `Accepted` effect, so its
/// version and meter id strings are allocated anew for every telegram, here too).
pub struct Pipeline {
    pub framer: Framer,
    pub events: Vec<Event>,
    pub telegram: Telegram,
}

impl Pipeline {
    pub fn new(mode: FramerMode) -> Self {
        Pipeline {
            framer: Framer::new(mode),
            events: Vec::with_capacity(4),
            telegram: Telegram::default(),
        }
    }

    /// Push `bytes` in reads of `chunk` bytes; returns how many telegrams parsed successfully.
    pub fn run(&mut self, bytes: &[u8], chunk: usize, mut sink: impl FnMut(Reading)) -> usize {
        let mut ok = 0;
        for read in bytes.chunks(chunk) {
            self.framer.push(read, &mut self.events);
            for ev in self.events.drain(..) {
                if let Event::Frame(f) = ev {
                    let parsed = f.parse_into(ParseOptions::default(), &mut self.telegram);
                    self.framer.recycle(f);
                    if parsed.is_ok() {
                        let empty = Reading::empty(Protocol::Dsmr);
                        sink(std::mem::replace(&mut self.telegram.reading, empty));
                        ok += 1;
                    }
                }
            }
        }
        ok
    }
}

/// The `dsmr5` crate's view of the values our `Reading` holds.
#[derive(Default, Debug)]
pub struct Dsmr5Values {
    pub version: Option<[u8; 1]>,
    pub timestamp: Option<dsmr5::types::TST>,
    pub meter_id: Option<String>,
    pub energy: [[Option<f64>; 2]; 2],
    pub power_delivered: Option<f64>,
    pub power_received: Option<f64>,
    pub voltage: [Option<f64>; 3],
    pub current: [Option<u64>; 3],
    pub power_plus: [Option<f64>; 3],
    pub power_neg: [Option<f64>; 3],
}

/// The `dsmr5` crate doing the work `dsmr::parse` does on an SMR 5.0 telegram:
/// - copy the telegram into its fixed `Readout { buffer: [u8; 2048] }` (its API's input type;
///   its own `Reader` fills it the same way);
/// - `Readout::to_telegram`: UTF-8 validation of the 2048-byte buffer, `!` search, CRC16/ARC
///   check, header split;
/// - iterate every COSEM object (`OBIS::parse` on each line: it fails on an unknown OBIS code,
///   as ours fails on a malformed line) and keep the values our `Reading` keeps: version,
///   timestamp (fields only: the crate has no local-time → UTC conversion, ours does it with
///   chrono-tz), equipment identifier hex-decoded into a `String` (as ours), energy registers
///   T1/T2 import/export, total power delivered/received, and per phase voltage, current,
///   active power +/−.
///
/// It does less than ours in three ways: no UTC conversion, no header/version strings
/// allocated, no e-MUCS/M-Bus handling; and the numbers it reads are fixed-width
/// (`UFixedDouble::parse(body, 5, 3)`), where ours takes any decimal and checks the unit.
pub fn dsmr5_readout(bytes: &[u8]) -> dsmr5::Readout {
    let mut readout = dsmr5::Readout { buffer: [0; 2048] };
    readout.buffer[..bytes.len()].copy_from_slice(bytes);
    readout
}

pub fn dsmr5_values(readout: &dsmr5::Readout) -> Dsmr5Values {
    use dsmr5::OBIS;
    let telegram = readout.to_telegram().expect("dsmr5: telegram");
    let mut v = Dsmr5Values::default();
    for obj in telegram.objects() {
        match obj.expect("dsmr5: object") {
            OBIS::Version(s) => {
                let mut o = s.as_octets();
                v.version = o.next().and_then(Result::ok).map(|b| [b]);
            }
            OBIS::DateTime(tst) => v.timestamp = Some(tst),
            OBIS::EquipmentIdentifier(s) => {
                v.meter_id = s
                    .as_octets()
                    .map(|b| b.ok().map(char::from))
                    .collect::<Option<String>>();
            }
            OBIS::MeterReadingTo(t, mr) => v.energy[0][t as usize] = Some(f64::from(&mr)),
            OBIS::MeterReadingBy(t, mr) => v.energy[1][t as usize] = Some(f64::from(&mr)),
            OBIS::PowerDelivered(p) => v.power_delivered = Some(f64::from(&p)),
            OBIS::PowerReceived(p) => v.power_received = Some(f64::from(&p)),
            OBIS::InstantaneousVoltage(l, x) => v.voltage[l as usize] = Some(f64::from(&x)),
            OBIS::InstantaneousCurrent(l, x) => v.current[l as usize] = Some(x.0),
            OBIS::InstantaneousActivePowerPlus(l, x) => {
                v.power_plus[l as usize] = Some(f64::from(&x))
            }
            OBIS::InstantaneousActivePowerNeg(l, x) => {
                v.power_neg[l as usize] = Some(f64::from(&x))
            }
            _ => {}
        }
    }
    v
}
