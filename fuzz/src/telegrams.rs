//! Meter bytes for the `device_handle` target: raw bytes, valid DSMR and TIC telegrams from the
//! encoders and from captures in `../fixtures`, and those telegrams with field values replaced
//! by fuzzer-chosen text and their checksums made right again (so the mutation reaches the
//! value parsers and the device's acceptance rules instead of stopping at the CRC).

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::tic::{self, TicKind};

/// Captures used as seeds inside the generator (one of each family).
const CAPTURES: [&[u8]; 6] = [
    include_bytes!("../../fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt"),
    include_bytes!("../../fixtures/dsmr/nb-dsmr42-landisgyr-e350-1ph.txt"),
    include_bytes!("../../fixtures/dsmr/ndokter-fluvius-50217-3ph-gas-water.txt"),
    include_bytes!("../../fixtures/dsmr/nb-dsmr22-iskra-mt382-1003.txt"),
    include_bytes!("../../fixtures/tic/standard-tri-producer.txt"),
    include_bytes!("../../fixtures/tic/historic-mono-tempo.txt"),
];

/// Values that sit at the limits of the types the parsers and the device convert them to.
const EDGE_VALUES: [&str; 16] = [
    "999999999.9",
    "429496729.6",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "340282366920938463463374607431768211456.0",
    "1e39",
    "NaN",
    "inf",
    "-0",
    "0.000000000000000000000000000000000000000000001",
    "99999999999999999999*kW",
    "000000.000*kWh",
    "991231235959S",
    "",
];

/// Characters that make plausible-looking values (no field delimiters, no line ends).
const VALUE_CHARS: &[u8] = b"0123456789.0123456789*-+eEkWhVAms SWX:";

/// Text for one field value: an edge value, a run of value characters, or both.
pub fn value_text(u: &mut Unstructured<'_>) -> ArbResult<String> {
    let mut s = String::new();
    if u.arbitrary::<bool>()? {
        s.push_str(u.choose(&EDGE_VALUES)?);
    }
    let n = u.int_in_range(0usize..=24)?;
    for _ in 0..n {
        s.push(char::from(*u.choose(VALUE_CHARS)?));
    }
    Ok(s)
}

/// Bytes for the meter input of a device.
pub fn meter_bytes(u: &mut Unstructured<'_>) -> ArbResult<Vec<u8>> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => {
            let n = u.int_in_range(0usize..=600)?;
            u.bytes(n.min(u.len()))?.to_vec()
        }
        1 => {
            let (kind, r) = crate::reading(u)?;
            mutate_dsmr(u, dsmr::encode(&r, kind))?
        }
        2 => {
            let (_, r) = crate::reading(u)?;
            let kind = *u.choose(&TicKind::ALL)?;
            mutate_tic(u, tic::encode(&r, kind))?
        }
        3 => {
            let capture = u.choose(&CAPTURES)?.to_vec();
            match capture.first() {
                Some(b'/') => mutate_dsmr(u, capture)?,
                _ => mutate_tic(u, capture)?,
            }
        }
        _ => {
            let kind = *u.choose(&DsmrKind::ALL)?;
            let (_, r) = crate::reading(u)?;
            dsmr::with_version(&dsmr::encode(&r, kind), &value_text(u)?)
        }
    })
}

/// Replace the contents of fuzzer-chosen `(…)` fields, then re-sign the CRC (or, sometimes,
/// leave it wrong or flip a bit after signing).
fn mutate_dsmr(u: &mut Unstructured<'_>, mut t: Vec<u8>) -> ArbResult<Vec<u8>> {
    for _ in 0..u.int_in_range(0u8..=3)? {
        let opens: Vec<usize> = positions(&t, b'(');
        let Some(&open) = opens.get(usize::from(u.arbitrary::<u8>()?) % opens.len().max(1)) else {
            break;
        };
        let Some(close) = t[open..].iter().position(|&b| b == b')') else {
            break;
        };
        let text = value_text(u)?;
        t.splice(open + 1..open + close, text.bytes());
    }
    let mut t = resign_dsmr(t);
    if u.ratio(1u8, 8)? && !t.is_empty() {
        let at = usize::from(u.arbitrary::<u16>()?) % t.len();
        t[at] ^= 1 << u.int_in_range(0u8..=7)?;
    }
    Ok(t)
}

/// The telegram with the CRC after its first `!` replaced by the right one.
pub fn resign_dsmr(t: Vec<u8>) -> Vec<u8> {
    let Some(bang) = t.iter().position(|&b| b == b'!') else {
        return t;
    };
    let crc = format!("{:04X}", dsmr::crc16::checksum(&t[..=bang]));
    let tail = t[bang + 1..]
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .map_or(t.len(), |n| bang + 1 + n);
    let mut out = t[..=bang].to_vec();
    out.extend_from_slice(crc.as_bytes());
    out.extend_from_slice(&t[tail..]);
    out
}

/// Replace the data of fuzzer-chosen TIC groups (`LF label SEP [date SEP] data SEP ck CR`),
/// recomputing each group's checksum.
fn mutate_tic(u: &mut Unstructured<'_>, mut t: Vec<u8>) -> ArbResult<Vec<u8>> {
    for _ in 0..u.int_in_range(0u8..=3)? {
        let lfs = positions(&t, b'\n');
        let Some(&lf) = lfs.get(usize::from(u.arbitrary::<u8>()?) % lfs.len().max(1)) else {
            break;
        };
        let Some(cr) = t[lf..].iter().position(|&b| b == b'\r').map(|n| lf + n) else {
            break;
        };
        let group = &t[lf + 1..cr];
        // group = label SEP … SEP data SEP ck (standard: HT; historic: SP).
        if group.len() < 4 {
            continue;
        }
        let sep = group[group.len() - 2];
        let Some(data_start) = group[..group.len() - 2]
            .iter()
            .rposition(|&b| b == sep)
            .map(|n| n + 1)
        else {
            continue;
        };
        let text: String = value_text(u)?.chars().filter(|c| *c != ' ').collect();
        let mut g = group[..data_start].to_vec();
        g.extend_from_slice(text.as_bytes());
        // Standard mode covers the HT before the checksum; historic mode 1 does not.
        if sep == b'\t' {
            g.push(sep);
            let ck = tic::group_checksum(&g);
            g.push(ck);
        } else {
            let ck = tic::group_checksum(&g);
            g.extend_from_slice(&[sep, ck]);
        }
        t.splice(lf + 1..cr, g);
    }
    Ok(t)
}

fn positions(t: &[u8], b: u8) -> Vec<usize> {
    t.iter()
        .enumerate()
        .filter(|(_, &x)| x == b)
        .map(|(i, _)| i)
        .collect()
}
