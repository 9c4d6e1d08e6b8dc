//! TIC group checksums (Enedis-NOI-CPT_54E §5.3.6 and §6.2.3): the sum of a span of bytes,
//! truncated to 6 bits and shifted into the printable range `0x20..=0x5F`.

/// Checksum of `bytes`: `(sum of bytes) & 0x3F + 0x20`.
///
/// Which span to pass depends on the mode: standard mode covers label through the HT right
/// before the checksum; historic mode covers `label SP data` (mode 1), some meters also
/// include the last SP (mode 2).
pub fn group_checksum(bytes: &[u8]) -> u8 {
    checksum_of_sum(sum(bytes))
}

/// Sum of the bytes (wrapping; only the low 6 bits matter).
#[inline]
pub(crate) fn sum(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_add(u32::from(b)))
}

/// The checksum character for a byte sum.
#[inline]
pub(crate) fn checksum_of_sum(sum: u32) -> u8 {
    // 0x00..=0x3F + 0x20 ≤ 0x5F: never wraps.
    ((sum & 0x3F) as u8).wrapping_add(0x20)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn known_groups() {
        // Standard: label HT data HT is covered.
        assert_eq!(group_checksum(b"VTIC\t02\t"), b'J');
        assert_eq!(group_checksum(b"DATE\tE210414082625\t\t"), b'A');
        // Historic mode 1: label SP data; this one's checksum is a space.
        assert_eq!(group_checksum(b"BASE 010151175"), b' ');
        assert_eq!(group_checksum(b"ADCO 021861348497"), b'L');
    }
}
