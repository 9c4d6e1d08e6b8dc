//! Power supply rules (PWR-01..04): an SMR 5 meter powers the P1 variant through its P1 port;
//! a DSMR 4.2 meter cannot, and the TIC variant never takes power from its input, so those
//! need USB-C. The P1 ext output needs USB-C (PWR-03).

use super::Variant;
use serde::Serialize;

/// Where power can come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PowerInputs {
    /// A USB-C supply is plugged in.
    pub usb: bool,
    /// The meter's P1 port supplies power (SMR 5.x meters do; DSMR 4.2 meters do not).
    pub p1_supply: bool,
}

impl PowerInputs {
    /// Whether a device of `variant` runs on these inputs.
    pub fn powers(self, variant: Variant) -> bool {
        self.usb || (variant == Variant::P1 && self.p1_supply)
    }

    /// Whether the P1 ext output has enough power to feed a second P1 device.
    pub fn p1_ext_powered(self, variant: Variant) -> bool {
        variant == Variant::P1 && self.usb
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn supply_rules() {
        let p1 = PowerInputs {
            usb: false,
            p1_supply: true,
        };
        assert!(p1.powers(Variant::P1), "PWR-01");
        assert!(!p1.p1_ext_powered(Variant::P1), "PWR-03");
        assert!(!PowerInputs::default().powers(Variant::P1), "PWR-02");
        assert!(!p1.powers(Variant::Tic), "PWR-04");
        let usb = PowerInputs {
            usb: true,
            p1_supply: false,
        };
        assert!(
            usb.powers(Variant::Tic) && usb.powers(Variant::P1) && usb.p1_ext_powered(Variant::P1)
        );
    }
}
