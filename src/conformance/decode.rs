//! The suite's own decoding of Modbus registers, written from the manual (MB-06) and not
//! shared with the device: a value is an IEEE 754 Float32 in two registers, big-endian within
//! each register, the register order swapped ("CD AB", big-endian word swap), so 230.0 V is
//! the bytes `00 00 43 66`. The product's encoder (`device::registers`) is what is judged;
//! decoding with it would only check that it agrees with itself.

/// The Float32 a register pair holds in CD AB order: the first register carries the low
/// half (bytes C D), the second the high half (bytes A B) of the IEEE 754 bit pattern.
pub fn float_cd_ab(words: [u16; 2]) -> f32 {
    let [low, high] = words;
    f32::from_bits((u32::from(high) << 16) | u32::from(low))
}

/// The Float32 a register pair holds in AB CD order (no word swap): the first register
/// carries the high half. Used only to tell an engineer that the words are swapped.
pub fn float_ab_cd(words: [u16; 2]) -> f32 {
    let [high, low] = words;
    f32::from_bits((u32::from(high) << 16) | u32::from(low))
}

/// The CD AB float at register `index` of a longer read, or `None` when the read is too
/// short to hold both registers.
pub fn float_cd_ab_at(words: &[u16], index: usize) -> Option<f32> {
    let low = *words.get(index)?;
    let high = *words.get(index.checked_add(1)?)?;
    Some(float_cd_ab([low, high]))
}

/// The first two registers of an answer, or what was wrong with it (a device that answers a
/// read of 2 registers with fewer is judged by the message, not by a panic on an index).
pub fn first_pair(words: &[u16]) -> Result<[u16; 2], String> {
    match words {
        [a, b, ..] => Ok([*a, *b]),
        _ => Err(format!(
            "the answer holds {} register(s), a float needs 2",
            words.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registers from the bytes on the wire, two bytes per register, big-endian.
    fn words(bytes: [u8; 4]) -> [u16; 2] {
        [
            u16::from_be_bytes([bytes[0], bytes[1]]),
            u16::from_be_bytes([bytes[2], bytes[3]]),
        ]
    }

    #[test]
    fn manual_example_230_volts() {
        // MB-06: 230.0 = 0x43660000; CD AB puts 00 00 first, then 43 66.
        assert_eq!(float_cd_ab(words([0x00, 0x00, 0x43, 0x66])), 230.0);
        assert_eq!(float_ab_cd(words([0x43, 0x66, 0x00, 0x00])), 230.0);
    }

    #[test]
    fn hand_computed_values() {
        // 1.0 = 0x3F800000, -2.5 = 0xC0200000, 1234.5 = 0x449A5000, 0.1 = 0x3DCCCCCD.
        assert_eq!(float_cd_ab([0x0000, 0x3F80]), 1.0);
        assert_eq!(float_cd_ab([0x0000, 0xC020]), -2.5);
        assert_eq!(float_cd_ab([0x5000, 0x449A]), 1234.5);
        assert_eq!(float_cd_ab([0xCCCD, 0x3DCC]), 0.1);
        assert_eq!(float_cd_ab([0x0000, 0x0000]), 0.0);
    }

    #[test]
    fn word_order_matters() {
        // The manual's bytes read without the word swap are a tiny number, not 230.
        let swapped = float_ab_cd(words([0x00, 0x00, 0x43, 0x66]));
        assert!(swapped.abs() < 1e-30, "{swapped}");
        assert!(float_cd_ab([0xFFFF, 0x7FFF]).is_nan());
    }

    #[test]
    fn at_an_offset_and_short_reads() {
        let read = [0x1111, 0x0000, 0x4366, 0x2222];
        assert_eq!(float_cd_ab_at(&read, 1), Some(230.0));
        assert_eq!(float_cd_ab_at(&read, 3), None);
        assert_eq!(float_cd_ab_at(&read, usize::MAX), None);
        assert_eq!(first_pair(&read), Ok([0x1111, 0x0000]));
        assert!(first_pair(&[0x4366]).is_err());
    }
}
