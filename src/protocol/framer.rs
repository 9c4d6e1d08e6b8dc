//! Streaming framer: finds P1 telegrams (`/` … `!CRC` CRLF) and TIC frames (STX … ETX) in an
//! arbitrary byte stream — reads split anywhere, leading noise, truncated frames, several
//! frames in one read. Memory is bounded: a frame longer than [`MAX_FRAME`] is dropped with a
//! `TooLarge` error and the framer resynchronises on the next start byte.

use super::{dsmr, tic, ErrorKind, ParseError, ParseOptions, Quirk, Telegram};
use memchr::{memchr, memchr2, memchr3};
use std::collections::VecDeque;

/// Largest frame kept (Belgian telegrams reach ~1.4 kB, TIC standard three-phase ~1.5 kB).
pub const MAX_FRAME: usize = 4096;
/// Bytes after `!` before the end-of-line: up to 4 CRC digits + CRLF, with slack.
const MAX_CRC_TAIL: usize = 8;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const EOT: u8 = 0x04;

/// Which frames to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramerMode {
    /// P1 telegrams only (the P1/A1 variant).
    P1,
    /// TIC frames only (the TIC variant).
    Tic,
    /// Both (the `parse` command on files of unknown origin).
    Auto,
}

/// The protocol family of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Dsmr,
    Tic,
}

/// One complete frame cut from the stream. Its bytes are read-only ([`Frame::bytes`]): the
/// framer hands along where the DSMR end marker is, so the parser does not search again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Stream offset of the frame's first byte.
    pub offset: usize,
    /// The frame with every bit 7 already cleared (the DSMR parser does not scan it again).
    bytes: Vec<u8>,
    /// DSMR: index in `bytes` of the first `!` (every DSMR frame has one); TIC: 0, unused.
    bang: usize,
    /// Some byte of the frame carried a parity bit that was stripped.
    pub parity_stripped: bool,
}

impl Frame {
    /// The frame's bytes, every bit 7 cleared.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The frame's bytes, owned (instead of handing the buffer back with [`Framer::recycle`]).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Parse the frame with the matching protocol parser; error offsets are stream offsets.
    /// [`Frame::parse_into`] into a new telegram.
    pub fn parse(&self, opts: ParseOptions) -> Result<Telegram, ParseError> {
        let mut t = Telegram::default();
        self.parse_into(opts, &mut t)?;
        Ok(t)
    }

    /// Parse the frame into `t`, reusing its strings' memory (a DSMR telegram's header,
    /// version and meter id) where it can: a long-lived `t` makes the steady state
    /// allocation-free. Everything in `t` is replaced; after an error `t` holds an unspecified
    /// part of the telegram. Error offsets are stream offsets.
    pub fn parse_into(&self, opts: ParseOptions, t: &mut Telegram) -> Result<(), ParseError> {
        let res = match self.kind {
            FrameKind::Dsmr => dsmr::parse_framed_into(&self.bytes, self.bang, opts, t),
            FrameKind::Tic => tic::parse_with(&self.bytes, opts).map(|new| *t = new),
        };
        match res {
            Ok(()) => {
                if self.parity_stripped {
                    t.quirk(Quirk::ParityStripped);
                }
                Ok(())
            }
            Err(e) => Err(e.shifted(self.offset)),
        }
    }
}

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Frame),
    /// A truncated, oversized or interrupted frame, or garbage between frames.
    Error(ParseError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hunting,
    Dsmr,
    /// After `!`: collecting the CRC digits up to LF.
    DsmrTail,
    Tic,
}

/// The streaming framer. Feed it with [`Framer::push`]; call [`Framer::finish`] at the end.
#[derive(Debug)]
pub struct Framer {
    mode: FramerMode,
    state: State,
    cur: Vec<u8>,
    cur_start: usize,
    /// Stream offsets of the bytes that carried a parity bit and may belong to a frame not yet
    /// emitted (ascending; those before the current frame are dropped as it starts).
    parity_at: VecDeque<usize>,
    /// Stream offset of the next byte pushed.
    pos: usize,
    garbage_start: usize,
    garbage_len: usize,
    /// Skipping the tail of a dropped oversized frame: not reported as garbage.
    dropping: bool,
    /// Index in `cur` of the DSMR frame's `!` (its first: the body holds none), once seen.
    bang_at: usize,
    scratch: Vec<u8>,
    /// A frame buffer handed back with [`Framer::recycle`], for the next frame.
    spare: Vec<u8>,
}

impl Framer {
    pub fn new(mode: FramerMode) -> Self {
        Framer {
            mode,
            state: State::Hunting,
            cur: Vec::new(),
            cur_start: 0,
            parity_at: VecDeque::new(),
            pos: 0,
            garbage_start: 0,
            garbage_len: 0,
            dropping: false,
            bang_at: 0,
            scratch: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Hand a frame back once read: its buffer holds the next frame (no allocation per frame
    /// in the steady state). Optional; only one buffer is kept.
    pub fn recycle(&mut self, frame: Frame) {
        let mut bytes = frame.bytes;
        if bytes.capacity() > self.spare.capacity() {
            bytes.clear();
            self.spare = bytes;
        }
    }

    /// Stream offset of the next byte to be pushed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Feed a chunk; complete frames and errors are appended to `out` in stream order.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Event>) {
        if !is_ascii(chunk) {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            scratch.extend(chunk.iter().map(|&b| b & 0x7F));
            let base = self.pos;
            self.parity_at.extend(
                (0..chunk.len())
                    .filter(|&i| chunk[i] & 0x80 != 0)
                    .map(|i| base.saturating_add(i)),
            );
            self.push_clean(&scratch, out);
            self.scratch = scratch;
            // Bounded: what lies before the open frame (or everything, between frames) goes.
            let keep_from = if self.in_frame() {
                self.cur_start
            } else {
                self.pos
            };
            self.forget_parity_before(keep_from);
        } else {
            self.push_clean(chunk, out);
        }
    }

    fn forget_parity_before(&mut self, at: usize) {
        while self.parity_at.front().is_some_and(|&p| p < at) {
            self.parity_at.pop_front();
        }
    }

    /// True while a frame has started but not ended.
    pub fn in_frame(&self) -> bool {
        self.state != State::Hunting
    }

    /// The line went idle inside a frame (inter-byte timeout): report it as truncated.
    pub fn idle(&mut self, out: &mut Vec<Event>) {
        if self.in_frame() {
            self.truncated(out, self.pos, "line idle inside a frame");
        }
    }

    /// End of stream: a frame still open is reported as truncated, pending garbage reported.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if self.state != State::Hunting {
            self.truncated(out, self.pos, "stream ended inside a frame");
        }
        self.flush_garbage(out);
    }

    fn push_clean(&mut self, mut chunk: &[u8], out: &mut Vec<Event>) {
        while !chunk.is_empty() {
            let used = match self.state {
                State::Hunting => self.hunt(chunk, out),
                State::Dsmr => self.in_dsmr(chunk, out),
                State::DsmrTail => self.in_dsmr_tail(chunk, out),
                State::Tic => self.in_tic(chunk, out),
            };
            // Stream position: saturates after 2^64 bytes (offsets in messages only).
            self.pos = self.pos.saturating_add(used);
            chunk = &chunk[used..];
        }
    }

    fn hunt(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> usize {
        let start = match self.mode {
            FramerMode::P1 => memchr(b'/', chunk),
            FramerMode::Tic => memchr(STX, chunk),
            FramerMode::Auto => memchr2(b'/', STX, chunk),
        };
        let skipped = &chunk[..start.unwrap_or(chunk.len())];
        let noisy = skipped.iter().filter(|&&b| !is_idle_noise(b)).count();
        if noisy > 0 && !self.dropping {
            if self.garbage_len == 0 {
                let first = skipped.iter().position(|&b| !is_idle_noise(b));
                self.garbage_start = self.pos.saturating_add(first.unwrap_or(0));
            }
            self.garbage_len = self.garbage_len.saturating_add(noisy);
        }
        let Some(i) = start else { return chunk.len() };
        self.flush_garbage(out);
        self.dropping = false;
        self.cur.clear();
        self.cur_start = self.pos.saturating_add(i);
        self.forget_parity_before(self.cur_start);
        self.cur.push(chunk[i]);
        self.state = if chunk[i] == STX {
            State::Tic
        } else {
            State::Dsmr
        };
        // `i` < `chunk.len()`: these `saturating_add(1)`s below never saturate.
        i.saturating_add(1)
    }

    fn in_dsmr(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> usize {
        match memchr2(b'!', b'/', chunk) {
            None => self.append(chunk, out),
            Some(i) if chunk[i] == b'!' => {
                let n = self.append(&chunk[..=i], out);
                if self.state == State::Dsmr {
                    self.state = State::DsmrTail;
                    self.bang_at = self.cur.len().saturating_sub(1);
                }
                n
            }
            Some(i) => {
                // '/' only ever opens a telegram: the meter restarted mid-telegram.
                let n = self.append(&chunk[..i], out);
                if self.state == State::Dsmr {
                    let at = self.pos.saturating_add(i);
                    self.truncated(out, at, "a new telegram started before '!'");
                }
                n
            }
        }
    }

    fn in_dsmr_tail(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> usize {
        // The tail starts at the frame's first '!' (the body cannot contain one), wherever
        // the reads were split: the last byte appended when the state became `DsmrTail`.
        let bang = self.bang_at;
        let tail_len = self.cur.len().saturating_sub(bang).saturating_sub(1);
        let room = MAX_CRC_TAIL.saturating_sub(tail_len);
        let window = &chunk[..chunk.len().min(room)];
        match memchr(b'\n', window) {
            Some(i) => {
                self.cur.extend_from_slice(&chunk[..=i]);
                self.emit(FrameKind::Dsmr, out);
                i.saturating_add(1)
            }
            None if window.len() == room => {
                // No end of line after the CRC: hand the frame over, the parser names the fault.
                self.cur.extend_from_slice(window);
                self.emit(FrameKind::Dsmr, out);
                window.len()
            }
            None => {
                self.cur.extend_from_slice(window);
                window.len()
            }
        }
    }

    fn in_tic(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> usize {
        match memchr3(ETX, EOT, STX, chunk) {
            None => self.append(chunk, out),
            Some(i) => {
                let n = self.append(&chunk[..i], out);
                if self.state != State::Tic {
                    return n;
                }
                match chunk[i] {
                    ETX => {
                        self.cur.push(ETX);
                        self.emit(FrameKind::Tic, out);
                        i.saturating_add(1)
                    }
                    EOT => {
                        let at = self.pos.saturating_add(i);
                        self.truncated(out, at, "frame interrupted by EOT");
                        i.saturating_add(1)
                    }
                    _ => {
                        let at = self.pos.saturating_add(i);
                        self.truncated(out, at, "a new frame started before ETX");
                        i
                    }
                }
            }
        }
    }

    /// Append to the current frame, enforcing the size limit; returns the bytes consumed.
    fn append(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> usize {
        if self.cur.len().saturating_add(bytes.len()) > MAX_FRAME {
            let err = ParseError::new(
                ErrorKind::TooLarge,
                self.cur_start,
                1,
                format!("frame longer than {MAX_FRAME} bytes dropped"),
            );
            out.push(Event::Error(err));
            // Drop exactly the first MAX_FRAME bytes of the frame, then resynchronise on the
            // next start byte (the same wherever the reads were split); the skipped rest is
            // not reported as garbage.
            let room = MAX_FRAME.saturating_sub(self.cur.len());
            self.state = State::Hunting;
            self.cur.clear();
            self.dropping = true;
            return room;
        }
        self.cur.extend_from_slice(bytes);
        bytes.len()
    }

    fn emit(&mut self, kind: FrameKind, out: &mut Vec<Event>) {
        let next = match std::mem::take(&mut self.spare) {
            v if v.capacity() > 0 => v,
            _ => Vec::with_capacity(1024),
        };
        let bytes = std::mem::replace(&mut self.cur, next);
        // The frame is the stream's bytes `cur_start .. end`.
        let end = self.cur_start.saturating_add(bytes.len());
        let parity_stripped = self.parity_at.front().is_some_and(|&p| p < end);
        self.forget_parity_before(end);
        out.push(Event::Frame(Frame {
            kind,
            offset: self.cur_start,
            bytes,
            bang: if kind == FrameKind::Dsmr {
                self.bang_at
            } else {
                0
            },
            parity_stripped,
        }));
        self.state = State::Hunting;
    }

    fn truncated(&mut self, out: &mut Vec<Event>, at: usize, why: &str) {
        let line = 1usize.saturating_add(self.cur.iter().filter(|&&b| b == b'\n').count());
        let msg = format!(
            "{why} ({} bytes since the frame start at byte {})",
            at.saturating_sub(self.cur_start),
            self.cur_start
        );
        out.push(Event::Error(ParseError::new(
            ErrorKind::Truncated,
            at,
            line,
            msg,
        )));
        self.cur.clear();
        self.state = State::Hunting;
    }

    fn flush_garbage(&mut self, out: &mut Vec<Event>) {
        if self.garbage_len > 0 {
            let msg = format!("{} bytes outside any frame skipped", self.garbage_len);
            out.push(Event::Error(ParseError::new(
                ErrorKind::Garbage,
                self.garbage_start,
                1,
                msg,
            )));
            self.garbage_len = 0;
        }
    }
}

/// No byte of `b` has bit 7 set (`<[u8]>::is_ascii`), 64 bytes per step with SSE2 (part of
/// every x86-64); elsewhere a word at a time.
fn is_ascii(b: &[u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
        let mut blocks = b.chunks_exact(64);
        for c in &mut blocks {
            let p = c.as_ptr().cast::<__m128i>();
            // SAFETY: `c` is 64 readable bytes, four 16-byte loads (`loadu`: no alignment
            // requirement); sse2 is enabled in this build (the cfg).
            let high = unsafe {
                let a = _mm_or_si128(_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)));
                let b = _mm_or_si128(_mm_loadu_si128(p.add(2)), _mm_loadu_si128(p.add(3)));
                _mm_movemask_epi8(_mm_or_si128(a, b))
            };
            if high != 0 {
                return false;
            }
        }
        blocks.remainder().is_ascii()
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    b.is_ascii()
}

/// Bytes a line carries between frames without anything being wrong (line ends, idle, ETX/EOT).
fn is_idle_noise(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | 0 | ETX | EOT)
}

/// One telegram found in a stream: its stream offset and content, or why it was rejected.
pub type Decoded = Result<(usize, Telegram), ParseError>;

/// Frame and parse a whole buffer: every telegram and every error, in stream order.
pub fn decode_all(bytes: &[u8], mode: FramerMode, opts: ParseOptions) -> Vec<Decoded> {
    frame_all(bytes, mode)
        .into_iter()
        .map(|ev| match ev {
            Event::Frame(f) => f.parse(opts).map(|t| (f.offset, t)),
            Event::Error(e) => Err(e),
        })
        .collect()
}

/// Frame a whole buffer at once (convenience for files and tests).
pub fn frame_all(bytes: &[u8], mode: FramerMode) -> Vec<Event> {
    let mut f = Framer::new(mode);
    let mut out = Vec::new();
    f.push(bytes, &mut out);
    f.finish(&mut out);
    out
}

#[cfg(test)]
#[path = "framer_tests.rs"]
mod tests;
