//! Puts the live house's telegrams on the device's input at their instants, and after each
//! one publishes a [`Sample`]: what the meter measured and the register snapshot the device
//! serves now. A tripped fuse powers the device off (it comes back with `reset_fuse`).

use super::{Control, Sample};
use crate::adapters::runner::Pace;
use crate::device::power::PowerInputs;
use crate::device::Event;
use crate::sim::clock::rfc3339;
use crate::sim::clock::Millis;
use std::sync::Arc;

/// Feed telegrams until `until` (device time), or for ever.
pub async fn feed_house(ctl: Arc<Control>, pace: Pace, until: Option<Millis>) {
    let host = Arc::clone(ctl.host());
    loop {
        let t = ctl.with_house(|h| h.next_at());
        if let Some(u) = until.filter(|u| t > *u) {
            pace.until(u).await;
            host.handle(Event::Tick);
            return;
        }
        pace.until(t).await;
        let (tel, ev_a, fuse_a, margin) = ctl.with_house(|h| {
            let tel = h.next();
            let ev = h.house.ev.phase_amps(tel.at);
            let rating = h.house.fuse.rating.map(|r| r.amps);
            (tel, ev, rating, h.house.fuse.margin_a())
        });
        if tel.tripped {
            tracing::warn!(
                "house [{}]: the main fuse tripped: the house and the device have no power (reset: POST /api/house/fuse/reset or `smart-connect-sim house fuse-reset`)",
                rfc3339(tel.at)
            );
            host.handle(Event::Power(PowerInputs {
                usb: false,
                p1_supply: false,
            }));
        }
        let sent = !tel.bytes.is_empty();
        if sent {
            host.handle(Event::SerialBytes(tel.bytes.clone()));
        }
        // Nothing on the wire (dropout, slow cadence, no power): no meter values either.
        let r = if sent {
            tel.reading.clone()
        } else {
            crate::protocol::Reading::empty(tel.reading.protocol)
        };
        ctl.publish(Sample {
            at: tel.at,
            time: rfc3339(tel.at),
            sent,
            voltage_v: r.voltage_v,
            current_a: r.current_a,
            power_w: r.active_power_phase_w,
            import_w: r.power_import_w,
            export_w: r.power_export_w,
            registers: host.served().values,
            ev_a,
            fuse_a,
            fuse_margin_a: margin,
            tripped: tel.tripped || ctl.with_house(|h| h.dark()),
            telegram: String::from_utf8_lossy(&tel.bytes).into_owned(),
        });
    }
}
