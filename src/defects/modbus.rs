//! The Modbus defects: a wrapper around the device's Modbus service (word order, unit id
//! filter, a stale FC 4 bank) and the server options (a second client, no idle timeout).

use super::{planted, Defect};
use crate::adapters::host::{Host, Served};
use crate::adapters::modbus::{exception, response, ModbusOptions, Service};
use crate::device::registers::{MeterValues, WordOrder};
use crate::sim::clock::Millis;
use std::sync::Arc;

/// `options` as the device's planted defects change them.
pub fn options(host: &Arc<Host>, mut options: ModbusOptions) -> ModbusOptions {
    let d = planted(host);
    if d.contains(&Defect::ModbusNoIdleTimeout) {
        options.idle_ms = Millis::MAX / 4;
    }
    if d.contains(&Defect::ModbusSecondClientAccepted) {
        options.single_client = false;
    }
    let faulty = FaultyService {
        word_order_abcd: d.contains(&Defect::ModbusWordOrderAbcd),
        fc4_stale: d.contains(&Defect::ModbusFc4Stale),
        unit_id_filter: d.contains(&Defect::ModbusUnitIdFilter),
        inner: Arc::clone(&options.service),
    };
    if faulty.word_order_abcd || faulty.fc4_stale || faulty.unit_id_filter {
        options.service = Arc::new(faulty);
    }
    options
}

/// The device's service with the read defects.
struct FaultyService {
    inner: Arc<dyn Service>,
    /// `modbus-word-order-abcd`: 32-bit values high word first.
    word_order_abcd: bool,
    /// `modbus-fc4-stale`: FC 4 reads a bank that is never refreshed.
    fc4_stale: bool,
    /// `modbus-unit-id-filter`: only unit id 1 is answered.
    unit_id_filter: bool,
}

/// Modbus exception 0x0B, "gateway target device failed to respond".
const GATEWAY_TARGET_FAILED: u8 = 0x0B;

impl Service for FaultyService {
    fn read(&self, served: &Served, unit: u8, function: u8, addr: u16, qty: u16) -> Vec<u8> {
        if self.unit_id_filter && unit != 1 {
            return exception(function, GATEWAY_TARGET_FAILED);
        }
        let stale;
        let served = match self.fc4_stale && function == 0x04 {
            true => {
                stale = Served {
                    values: MeterValues::default(),
                    ..served.clone()
                };
                &stale
            }
            false => served,
        };
        match self.word_order_abcd {
            true => response(
                function,
                served
                    .template
                    .read_in_order(&served.values, WordOrder::Abcd, function, addr, qty),
            ),
            false => self.inner.read(served, unit, function, addr, qty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::registers::Template;

    fn served() -> Served {
        let values = MeterValues {
            voltage_v: [230.0; 3],
            ..MeterValues::default()
        };
        Served {
            values,
            template: Template::PhoenixContactEmpro,
            serving: true,
            generation: 0,
        }
    }

    fn service(abcd: bool, stale: bool, unit: bool) -> FaultyService {
        FaultyService {
            inner: Arc::new(crate::adapters::modbus::DeviceService),
            word_order_abcd: abcd,
            fc4_stale: stale,
            unit_id_filter: unit,
        }
    }

    #[test]
    fn each_read_defect_changes_its_answers_only() {
        let s = served();
        let right = crate::adapters::modbus::DeviceService.read(&s, 0, 3, 0x8006, 2);
        assert_eq!(right, [3, 4, 0x00, 0x00, 0x43, 0x66], "CD AB");
        assert_eq!(
            service(true, false, false).read(&s, 0, 3, 0x8006, 2),
            [3, 4, 0x43, 0x66, 0x00, 0x00]
        );
        let stale = service(false, true, false);
        assert_eq!(stale.read(&s, 0, 4, 0x8006, 2), [4, 4, 0, 0, 0, 0]);
        assert_eq!(stale.read(&s, 0, 3, 0x8006, 2), right);
        let unit = service(false, false, true);
        assert_eq!(unit.read(&s, 0, 3, 0x8006, 2), [0x83, 0x0B]);
        assert_eq!(unit.read(&s, 1, 3, 0x8006, 2), right);
    }
}
