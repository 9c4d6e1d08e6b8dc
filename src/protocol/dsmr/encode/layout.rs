//! Telegram after telegram a meter sends the same lines with other digits. The
//! [`Encoder`](super::Encoder) remembers where each number, the time and the gas capture time
//! of its last telegram sit (a [`Layout`]); when the next telegram has the same shape — the
//! same meter id, the same values present, the same water/heat channels, every number fitting
//! its zero-padded width — only
//! those places are overwritten and the CRC recomputed. Anything else is written anew.

use super::fields::{overwrite, Fields, MAX_FIELDS};

/// A 13-byte time field (`YYMMDDhhmmssX`).
pub(super) type TimeField = [u8; 13];

/// The water and heat meters of a telegram: their part of its shape (which, on which
/// channel, in write order) and their capture time fields in that order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ExtraCaptures {
    pub shape: u32,
    pub times: [TimeField; 2],
    pub len: usize,
}

/// Where the numbers of the last telegram are, and the shape they belong to.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// The meter id generation the telegram was written with.
    pub id_generation: u64,
    /// [`Fields::absent`] of the telegram.
    pub absent: u32,
    pub field_count: usize,
    /// Offset of each present field's digits and the value they show (absent fields: unused).
    pub at: [usize; MAX_FIELDS],
    pub shown: [u64; MAX_FIELDS],
    /// [`Num::bits`](super::fields::Num::bits) of the value each place shows: unchanged bits, nothing to rewrite.
    pub bits: [u64; MAX_FIELDS],
    /// Offsets of the 13-byte time field and the gas capture time (when there is gas).
    pub time_at: usize,
    pub capture_at: Option<usize>,
    /// [`ExtraCaptures::shape`] of the telegram and the offsets of its capture times.
    pub extra_shape: u32,
    pub extra_at: [usize; 2],
    /// Offset of the `!` before the CRC.
    pub bang_at: usize,
}

/// The places of a telegram being written, or `None` once a number went outside its width.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    layout: Option<Layout>,
}

impl Recorder {
    pub fn new(id_generation: u64, fields: &Fields, extra_shape: u32) -> Self {
        Recorder {
            layout: Some(Layout {
                id_generation,
                absent: fields.absent,
                field_count: fields.len,
                at: [0; MAX_FIELDS],
                shown: [0; MAX_FIELDS],
                bits: [0; MAX_FIELDS],
                time_at: 0,
                capture_at: None,
                extra_shape,
                extra_at: [0; 2],
                bang_at: 0,
            }),
        }
    }

    /// Field `i` was written at `at`; `shown`: the scaled value, when the integer path wrote
    /// it in exactly its width.
    pub fn field(&mut self, i: usize, at: usize, shown: Option<u64>, bits: u64) {
        match (self.layout.as_mut(), shown) {
            (Some(l), Some(n)) if i < MAX_FIELDS => {
                l.at[i] = at;
                l.shown[i] = n;
                l.bits[i] = bits;
            }
            _ => self.layout = None,
        }
    }

    pub fn time(&mut self, at: usize) {
        if let Some(l) = self.layout.as_mut() {
            l.time_at = at;
        }
    }

    pub fn capture(&mut self, at: usize) {
        if let Some(l) = self.layout.as_mut() {
            l.capture_at = Some(at);
        }
    }

    /// The capture time of the `k`-th water/heat meter was written at `at`.
    pub fn extra_capture(&mut self, k: usize, at: usize) {
        if let Some(slot) = self.layout.as_mut().and_then(|l| l.extra_at.get_mut(k)) {
            *slot = at;
        }
    }

    pub fn finish(self, bang_at: usize) -> Option<Layout> {
        self.layout.map(|l| Layout { bang_at, ..l })
    }
}

impl Layout {
    /// Rewrite `buf` (the telegram this layout was recorded from, or an update of it) for
    /// `fields`, `time`, `capture` and `extra`; `false` when the telegram's shape differs or a number
    /// does not fit its place (`buf` may then be partly overwritten: write it anew).
    pub fn update(
        &mut self,
        buf: &mut [u8],
        id_generation: u64,
        fields: &Fields,
        time: &[u8; 13],
        capture: Option<&[u8; 13]>,
        extra: &ExtraCaptures,
    ) -> bool {
        if id_generation != self.id_generation
            || fields.absent != self.absent
            || fields.len != self.field_count
            || capture.is_some() != self.capture_at.is_some()
            || extra.shape != self.extra_shape
        {
            return false;
        }
        for (i, f) in fields.items.iter().take(fields.len).enumerate() {
            let bits = f.num.bits();
            if fields.absent & 1u32.wrapping_shl(i as u32) != 0 || bits == self.bits[i] {
                continue;
            }
            let Some(n) = f.scaled() else { return false };
            let at = self.at[i];
            let Some(slot) = buf.get_mut(at..at.saturating_add(usize::from(f.width))) else {
                return false;
            };
            if !overwrite(slot, n, self.shown[i], f.dec) {
                return false;
            }
            self.shown[i] = n;
            self.bits[i] = bits;
        }
        let mut put = |at: usize, v: &[u8; 13]| match buf.get_mut(at..at.saturating_add(13)) {
            Some(slot) => {
                slot.copy_from_slice(v);
                true
            }
            None => false,
        };
        put(self.time_at, time)
            && match (self.capture_at, capture) {
                (Some(at), Some(c)) => put(at, c),
                _ => true,
            }
            && (extra.len == 0
                || self
                    .extra_at
                    .iter()
                    .zip(&extra.times)
                    .take(extra.len)
                    .all(|(&at, c)| put(at, c)))
    }
}
