//! The defect catalogue: plausible firmware bugs the virtual device can be told to have
//! (`run --defect NAME`, hidden). It exists to prove that the conformance suite bites: each
//! defect names the feature area whose scenarios must catch it and the requirement ID a
//! failing scenario must carry. A device built without defects behaves as the manual says.

use std::collections::BTreeSet;

/// One planted firmware bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// Floats served high word first (ABCD) instead of CD-AB.
    ModbusWordOrderAbcd,
}

impl Defect {
    /// Every defect in the catalogue.
    pub const ALL: &'static [Defect] = &[Defect::ModbusWordOrderAbcd];

    /// The name `--defect` takes.
    pub fn name(self) -> &'static str {
        match self {
            Defect::ModbusWordOrderAbcd => "modbus-word-order-abcd",
        }
    }

    /// What the buggy firmware does, in one line.
    pub fn describe(self) -> &'static str {
        match self {
            Defect::ModbusWordOrderAbcd => "32-bit floats are served ABCD instead of CD-AB",
        }
    }

    /// The feature tag whose scenarios must catch it (`@modbus`).
    pub fn area(self) -> &'static str {
        match self {
            Defect::ModbusWordOrderAbcd => "@modbus",
        }
    }

    /// Requirement IDs a failing scenario must carry (at least one of them).
    pub fn requirements(self) -> &'static [&'static str] {
        match self {
            Defect::ModbusWordOrderAbcd => &["MB-04"],
        }
    }

    /// The defect called `name`.
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// All names, comma-separated (for error messages).
    pub fn names() -> String {
        Defect::ALL
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The defects a device has (empty: a correct device).
pub type Defects = BTreeSet<Defect>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let names: BTreeSet<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names.len(), Defect::ALL.len());
        for d in Defect::ALL {
            assert_eq!(Defect::from_name(d.name()), Some(*d));
            assert!(!d.requirements().is_empty());
            assert!(d.area().starts_with('@'));
        }
        assert_eq!(Defect::from_name("no-such-defect"), None);
    }
}
