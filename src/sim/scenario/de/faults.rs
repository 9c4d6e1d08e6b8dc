//! The `faults:` list: a fault map `{at, kind, …}` checked as a whole (the fields each kind
//! needs and no others; `incompatible` only on a P1 meter) into a scheduled `Fault`.

use super::checked_map;
use super::context::context;
use super::error::SpecError;
use super::values::{ByteCount, Dur, SkewSeconds};
use crate::protocol::MeterKind;
use crate::sim::faults::{Fault, FaultKind};
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultName {
    BadCrc,
    Truncate,
    Noise,
    Garbage,
    Dropout,
    Incompatible,
    ClockSkew,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRaw {
    at: Dur,
    kind: FaultName,
    #[serde(default)]
    duration: Option<Dur>,
    #[serde(default)]
    bytes: Option<ByteCount>,
    #[serde(default)]
    seconds: Option<SkewSeconds>,
}

pub struct FaultSpec(pub Fault);

impl TryFrom<FaultRaw> for FaultSpec {
    type Error = SpecError;
    fn try_from(r: FaultRaw) -> Result<Self, SpecError> {
        let (name, needs) = match r.kind {
            FaultName::Dropout => ("dropout", Some("duration")),
            FaultName::Noise => ("noise", Some("bytes")),
            FaultName::Garbage => ("garbage", Some("bytes")),
            FaultName::ClockSkew => ("clock_skew", Some("seconds")),
            FaultName::BadCrc => ("bad_crc", None),
            FaultName::Truncate => ("truncate", None),
            FaultName::Incompatible => ("incompatible", None),
        };
        let given = [
            ("duration", r.duration.is_some()),
            ("bytes", r.bytes.is_some()),
            ("seconds", r.seconds.is_some()),
        ];
        for (field, present) in given {
            if present && needs != Some(field) {
                return Err(SpecError::FaultFieldExtra { field, kind: name });
            }
            if !present && needs == Some(field) {
                return Err(SpecError::FaultFieldMissing { field, kind: name });
            }
        }
        let kind = match r.kind {
            FaultName::BadCrc => FaultKind::BadCrc,
            FaultName::Truncate => FaultKind::Truncate,
            FaultName::Noise => FaultKind::Noise {
                bytes: r.bytes.map_or(0, |b| b.0),
            },
            FaultName::Garbage => FaultKind::Garbage {
                bytes: r.bytes.map_or(0, |b| b.0),
            },
            FaultName::Dropout => {
                let d = r.duration.map_or(0, |d| d.0);
                if d == 0 {
                    return Err(SpecError::ZeroDropout);
                }
                FaultKind::Dropout { duration_ms: d }
            }
            FaultName::Incompatible => {
                if let Some(meter @ MeterKind::Tic(_)) = context().kind {
                    return Err(SpecError::IncompatibleOnTic { meter });
                }
                FaultKind::Incompatible
            }
            FaultName::ClockSkew => FaultKind::ClockSkew {
                seconds: r.seconds.map_or(0, |s| s.0),
            },
        };
        Ok(FaultSpec(Fault {
            at_ms: r.at.0,
            kind,
        }))
    }
}
checked_map!(FaultSpec from FaultRaw, "a fault map {at, kind, …}");
