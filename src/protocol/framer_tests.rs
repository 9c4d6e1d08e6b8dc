//! Unit tests of the streaming framer: garbage between frames is reported once, with its
//! offset and size, and idle-line noise is not garbage.

use super::*;

fn events(chunks: &[&[u8]]) -> Vec<Event> {
    let mut f = Framer::new(FramerMode::P1);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c, &mut out);
    }
    f.finish(&mut out);
    out
}

const FRAME: &[u8] = b"/XXX5TEST\r\n\r\n1-0:1.7.0(00.100*kW)\r\n!ABCD\r\n";

#[test]
fn garbage_before_a_frame_is_one_error_with_its_offset_and_size() {
    let mut stream = b"\r\nxy".to_vec();
    stream.extend_from_slice(FRAME);
    // Split inside the garbage: still one error.
    let out = events(&[&stream[..3], &stream[3..]]);
    let [Event::Error(e), Event::Frame(f)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(e.kind, ErrorKind::Garbage);
    assert_eq!(e.offset, 2, "the first byte that is not idle-line noise");
    assert!(
        e.message.starts_with("2 bytes outside any frame"),
        "{}",
        e.message
    );
    assert_eq!((f.offset, f.bytes()), (4, FRAME));
}

#[test]
fn idle_line_noise_is_not_garbage_and_trailing_garbage_is_reported_at_the_end() {
    let mut stream = b"\r\n \0".to_vec();
    stream.extend_from_slice(FRAME);
    stream.extend_from_slice(b"zz");
    let out = events(&[&stream]);
    assert!(matches!(&out[0], Event::Frame(_)), "{out:?}");
    let Event::Error(e) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(e.kind, ErrorKind::Garbage);
    assert_eq!(e.offset, 4 + FRAME.len());
    assert_eq!(out.len(), 2);
}

#[test]
fn the_ascii_check_agrees_with_the_standard_one_at_every_length_and_position() {
    let clean: Vec<u8> = (0..300u32).map(|i| (i % 0x7F) as u8).collect();
    for len in 0..clean.len() {
        assert!(is_ascii(&clean[..len]), "clean, length {len}");
        for at in [0, len / 2, len.saturating_sub(1)] {
            if at < len {
                let mut b = clean[..len].to_vec();
                b[at] |= 0x80;
                assert_eq!(is_ascii(&b), b.is_ascii(), "length {len}, high bit at {at}");
                assert!(!is_ascii(&b));
            }
        }
    }
}

#[test]
fn a_recycled_buffer_carries_the_next_frame_only() {
    let mut f = Framer::new(FramerMode::P1);
    let mut out = Vec::new();
    let long = [FRAME, FRAME].concat();
    f.push(&long[..FRAME.len()], &mut out);
    let Some(Event::Frame(first)) = out.pop() else {
        panic!("one frame");
    };
    f.recycle(first);
    f.push(b"noise", &mut out);
    f.push(&long[FRAME.len()..], &mut out);
    f.finish(&mut out);
    let frames: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Event::Frame(fr) => Some(fr.bytes()),
            Event::Error(_) => None,
        })
        .collect();
    assert_eq!(frames, [FRAME]);
    let parsed = match &out[1] {
        Event::Frame(fr) => fr.parse(ParseOptions::default()),
        other => panic!("{other:?}"),
    };
    let reference = dsmr::parse(FRAME);
    assert_eq!(
        parsed.map_err(|e| e.message),
        reference.map_err(|e| e.message)
    );
}
