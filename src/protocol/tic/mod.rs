//! Linky TIC (Enedis-NOI-CPT_54E) frame parser: one frame `STX … ETX` in, one [`Telegram`]
//! out. Both modes are handled: historic (1200 Bd, SP separators) and standard (9600 Bd, HT
//! separators, horodated groups). Every group checksum is verified; groups are split by
//! position (the checksum is the byte before CR, the separator the byte before it), so a
//! checksum that is itself a space and data that contains spaces are read correctly. The
//! encoder for synthetic meters lives in [`encode`].
//!
//! Error positions: `offset` is the byte offset of the failing group's LF (or of the
//! offending byte for frame-level errors) in the input; `line` is the 1-based line on which
//! the group's text stands when the frame is viewed as text (the line after its LF).

mod checksum;
pub mod encode;
mod map;
#[cfg(test)]
mod tests;

pub use checksum::group_checksum;
pub use encode::{encode, encode_with, TicKind};
pub use map::Stge;

use super::error::line_of;
use super::{
    strip_parity, ErrorKind, ParseError, ParseOptions, Protocol, Quirk, Reading, Telegram,
};
use checksum::{checksum_of_sum, sum};
use map::Acc;

pub(crate) const STX: u8 = 0x02;
pub(crate) const ETX: u8 = 0x03;
pub(crate) const EOT: u8 = 0x04;
pub(crate) const LF: u8 = b'\n';
pub(crate) const CR: u8 = b'\r';
pub(crate) const HT: u8 = b'\t';
pub(crate) const SP: u8 = b' ';

/// Parse one TIC frame (`STX … ETX` inclusive) with default options.
pub fn parse(frame: &[u8]) -> Result<Telegram, ParseError> {
    parse_with(frame, ParseOptions::default())
}

/// Parse one TIC frame (`STX … ETX` inclusive).
pub fn parse_with(frame: &[u8], opts: ParseOptions) -> Result<Telegram, ParseError> {
    // Branch-free OR over the frame (vectorises), then strip only when needed.
    let high = frame.iter().fold(0u8, |acc, &b| acc | b) & 0x80 != 0;
    let stripped = if high { strip_parity(frame) } else { None };
    let f: &[u8] = stripped.as_deref().unwrap_or(frame);
    parse_groups(f, opts, stripped.is_some()).map_err(|e| match frame_end(f) {
        // An envelope problem (EOT, missing ETX, stray bytes) explains any group error.
        Err(envelope) => envelope,
        Ok(_) => e,
    })
}

/// Parse the groups of a frame that starts with STX and ends with ETX. Bytes between are
/// all checked as group content or group starts, so a stray STX/ETX/EOT shows up as an
/// error here, which the caller then replaces by the envelope error.
fn parse_groups(f: &[u8], opts: ParseOptions, parity: bool) -> Result<Telegram, ParseError> {
    let etx = match f {
        [STX, .., ETX] => f.len().saturating_sub(1),
        _ => frame_end(f)?,
    };
    let mut tel = Telegram::new(Reading::empty(Protocol::TicStandard));
    if parity {
        tel.quirk(Quirk::ParityStripped);
    }
    let mut acc = Acc::default();
    let mut mode: Option<Mode> = None;
    let mut pos = 1;
    while pos < etx {
        if f[pos] != LF {
            let msg = format!(
                "expected LF at the start of a group, found {}",
                show(f[pos])
            );
            return Err(ParseError::new(
                ErrorKind::Malformed,
                pos,
                line_of(f, pos),
                msg,
            ));
        }
        // Positions are inside `f` (`pos` < `etx` < `f.len()`): saturating never bites.
        let start = pos.saturating_add(1);
        let Some(len) = find_byte(&f[start..etx], CR) else {
            let msg = "group has no CR before ETX";
            return Err(group_error(f, pos, ErrorKind::Malformed, msg));
        };
        let end = start.saturating_add(len);
        let g = split_group(&f[start..end], &mut mode)
            .map_err(|(kind, msg)| group_error(f, pos, kind, msg))?;
        if g.mode2 {
            tel.quirk(Quirk::ChecksumMode2);
        }
        let mapped = acc
            .apply(&mut tel, g.mode, &g)
            .map_err(|e| group_error(f, pos, ErrorKind::Malformed, e.to_string()))?;
        if opts.keep_raw && !mapped {
            tel.raw.push(raw_text(&g));
        }
        pos = end.saturating_add(1);
    }
    let mode =
        mode.ok_or_else(|| ParseError::new(ErrorKind::Empty, 1, 1, "frame has no groups"))?;
    acc.finish(&mut tel.reading, mode);
    Ok(tel)
}

/// Check the frame envelope; returns the index of ETX.
fn frame_end(f: &[u8]) -> Result<usize, ParseError> {
    let err = |kind, offset, msg: String| ParseError::new(kind, offset, line_of(f, offset), msg);
    match f.first() {
        None => return Err(err(ErrorKind::Empty, 0, "empty input: no TIC frame".into())),
        Some(&STX) => {}
        Some(&b) => {
            let msg = format!(
                "expected STX (0x02) at the start of the frame, found {}",
                show(b)
            );
            return Err(err(ErrorKind::Malformed, 0, msg));
        }
    }
    for (i, &b) in f.iter().enumerate().skip(1) {
        match b {
            ETX if i.saturating_add(1) == f.len() => return Ok(i),
            ETX => {
                let after = f.len().saturating_sub(i).saturating_sub(1);
                let msg = format!("{after} byte(s) after ETX");
                return Err(err(ErrorKind::Malformed, i.saturating_add(1), msg));
            }
            EOT => {
                let msg = "frame interrupted by EOT (0x04) before ETX".to_string();
                return Err(err(ErrorKind::Truncated, i, msg));
            }
            STX => {
                let msg = "a new STX before ETX: frame truncated".to_string();
                return Err(err(ErrorKind::Truncated, i, msg));
            }
            _ => {}
        }
    }
    Err(err(
        ErrorKind::Truncated,
        f.len(),
        "no ETX: frame truncated".into(),
    ))
}

/// An error about the group whose LF is at `lf`; the line is the one the group's text is on.
fn group_error(f: &[u8], lf: usize, kind: ErrorKind, msg: impl Into<String>) -> ParseError {
    ParseError::new(kind, lf, line_of(f, lf.saturating_add(1)), msg)
}

/// A byte for an error message: printable as `'x'`, otherwise as hex.
fn show(b: u8) -> String {
    if b.is_ascii_graphic() || b == SP {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02X}")
    }
}

/// Which TIC mode a frame is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Historic,
    Standard,
}

impl Mode {
    fn separator(self) -> u8 {
        match self {
            Mode::Historic => SP,
            Mode::Standard => HT,
        }
    }
}

/// One checked group: `label SEP [horodate SEP] data SEP checksum`.
struct Group<'a> {
    mode: Mode,
    label: &'a [u8],
    horodate: Option<&'a [u8]>,
    data: &'a [u8],
    /// The checksum only matched with the last separator included (historic mode 2).
    mode2: bool,
}

type GroupError = (ErrorKind, String);

/// Split and check one group's content `c` (between LF and CR). Sets the frame's mode from
/// the first group.
fn split_group<'a>(c: &'a [u8], mode: &mut Option<Mode>) -> Result<Group<'a>, GroupError> {
    let malformed = |msg: String| (ErrorKind::Malformed, msg);
    // The label for messages, only computed on the error paths.
    let name = || {
        let end = c.iter().position(|&b| b <= SP).unwrap_or(c.len());
        String::from_utf8_lossy(&c[..end]).into_owned()
    };
    let scan = Scan::of(c);
    if scan.control {
        let b = c.iter().copied().find(|&b| b < SP && b != HT).unwrap_or(0);
        let name = name();
        return Err(malformed(format!(
            "group {name:?}: control byte {} inside the group",
            show(b)
        )));
    }
    let n = c.len();
    if n < 2 {
        return Err(malformed(format!("group {:?} is too short", name())));
    }
    // n ≥ 2 (checked above).
    let sep = c[n.saturating_sub(2)];
    let m = match (*mode, sep) {
        (Some(m), _) => m,
        (None, HT) => Mode::Standard,
        (None, SP) => Mode::Historic,
        (None, _) => {
            let name = name();
            let msg = format!(
                "group {name:?}: no HT or SP before the checksum, found {}",
                show(sep)
            );
            return Err(malformed(msg));
        }
    };
    *mode = Some(m);
    if sep != m.separator() {
        let want = if m == Mode::Standard { "HT" } else { "SP" };
        let name = name();
        let msg = format!(
            "group {name:?}: expected {want} before the checksum, found {}",
            show(sep)
        );
        return Err(malformed(msg));
    }
    let head = &c[..n.saturating_sub(2)];
    let Some(i) = head.iter().position(|&b| b == sep) else {
        let msg = format!("group {:?}: no separator after the label", name());
        return Err(malformed(msg));
    };
    let label = &head[..i];
    if label.is_empty() {
        return Err(malformed("group with an empty label".to_string()));
    }
    let rest = &head[i.saturating_add(1)..];
    // Standard groups have 2 HTs, or 3 with a horodate.
    let (horodate, data) = match (m, scan.tabs) {
        (Mode::Standard, 3) => match rest.iter().position(|&b| b == HT) {
            Some(j) => (Some(&rest[..j]), &rest[j.saturating_add(1)..]),
            None => (None, rest),
        },
        (Mode::Standard, 4..) => {
            let msg = format!("group {:?}: too many HT-separated fields", name());
            return Err(malformed(msg));
        }
        _ => (None, rest),
    };

    let found = c[n.saturating_sub(1)];
    let mut mode2 = false;
    let expected = match m {
        Mode::Standard => checksum_of_sum(scan.sum.wrapping_sub(u32::from(found))),
        Mode::Historic => {
            // The checksum is a modular sum: wrapping is its definition here.
            let s = scan
                .sum
                .wrapping_sub(u32::from(found))
                .wrapping_sub(u32::from(sep));
            mode2 = checksum_of_sum(s.wrapping_add(u32::from(SP))) == found;
            checksum_of_sum(s)
        }
    };
    if found != expected && !mode2 {
        let also = match m {
            Mode::Historic => format!(
                " (or {} in mode 2)",
                show(checksum_of_sum(sum(head).wrapping_add(32)))
            ),
            Mode::Standard => String::new(),
        };
        let name = name();
        let msg = format!(
            "group {name:?}: checksum expected {}{also}, found {}",
            show(expected),
            show(found)
        );
        return Err((ErrorKind::BadChecksum, msg));
    }
    Ok(Group {
        mode: m,
        label,
        horodate,
        data,
        mode2: mode2 && found != expected,
    })
}

/// What one branch-free pass over a group's bytes tells.
struct Scan {
    /// Sum of all bytes (wrapping).
    sum: u32,
    /// Number of HT bytes.
    tabs: u32,
    /// A control byte other than HT is present.
    control: bool,
}

impl Scan {
    fn of(c: &[u8]) -> Scan {
        let (mut sum, mut tabs, mut control) = (0u32, 0u32, 0u32);
        for &b in c {
            sum = sum.wrapping_add(u32::from(b));
            tabs = tabs.saturating_add(u32::from(b == HT));
            control |= u32::from(b < SP) & u32::from(b != HT);
        }
        Scan {
            sum,
            tabs,
            control: control != 0,
        }
    }
}

/// Index of the first `needle` in `hay`, eight bytes at a time.
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // 0x01 repeated × a byte: the byte repeated, no carries.
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // The lowest set bit marks the first zero byte of `x` exactly.
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            let in_word = (zero.trailing_zeros() / 8) as usize;
            return Some(k.saturating_mul(8).saturating_add(in_word));
        }
    }
    let tail = chunks.remainder();
    let base = hay.len().saturating_sub(tail.len());
    tail.iter()
        .position(|&b| b == needle)
        .map(|p| base.saturating_add(p))
}

/// `LABEL DATA` or `LABEL HORODATE DATA` for [`Telegram::raw`].
fn raw_text(g: &Group<'_>) -> String {
    let mut s = String::with_capacity(
        g.label
            .len()
            .saturating_add(g.data.len())
            .saturating_add(16),
    );
    s.push_str(&String::from_utf8_lossy(g.label));
    if let Some(h) = g.horodate {
        s.push(' ');
        s.push_str(&String::from_utf8_lossy(h));
    }
    s.push(' ');
    s.push_str(&String::from_utf8_lossy(g.data));
    s
}
