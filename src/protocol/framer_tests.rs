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
