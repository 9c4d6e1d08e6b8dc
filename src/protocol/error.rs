//! Typed parse errors shared by the DSMR and TIC parsers and the framer: every error names
//! its kind, the byte offset and the 1-based line where it was found.

use serde::Serialize;
use std::fmt;

/// What went wrong with a telegram or frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A meter older than DSMR 4.2 (2.2/3.0: no CRC) — the device refuses it (P1-02).
    Incompatible,
    /// The DSMR CRC16 does not match the content.
    BadCrc,
    /// A TIC group checksum does not match its group.
    BadChecksum,
    /// The telegram ends before its end marker (`!CRC` or ETX), or a TIC frame was interrupted (EOT).
    Truncated,
    /// A line or group does not have the expected syntax (bad OBIS, bad number, unit, date…).
    Malformed,
    /// A frame grew past the framer's size limit and was dropped.
    TooLarge,
    /// Bytes outside any frame that are not line noise the framer may ignore.
    Garbage,
    /// No telegram at all.
    Empty,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Incompatible => "incompatible",
            ErrorKind::BadCrc => "bad_crc",
            ErrorKind::BadChecksum => "bad_checksum",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Garbage => "garbage",
            ErrorKind::Empty => "empty",
        }
    }
}

/// A parse failure: kind, byte offset (from the start of the parsed input, or of the stream
/// when it comes from the framer), 1-based line number and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub offset: usize,
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(kind: ErrorKind, offset: usize, line: usize, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            offset,
            line,
            message: message.into(),
        }
    }

    /// The same error with its offset moved by `base` bytes (frame position in a stream).
    pub fn shifted(mut self, base: usize) -> Self {
        // A stream offset: saturates after 2^64 bytes rather than wrapping to the start.
        self.offset = self.offset.saturating_add(base);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} (line {}): {}",
            self.kind.as_str(),
            self.offset,
            self.line,
            self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// 1-based line number of byte `offset` in `bytes` (counting LF).
pub fn line_of(bytes: &[u8], offset: usize) -> usize {
    let lfs = bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    lfs.saturating_add(1)
}
