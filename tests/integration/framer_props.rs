//! Property tests of the streaming framer: the same telegrams come out whatever the chunking,
//! noise between frames is skipped, oversized frames are dropped with bounded memory, and
//! random bytes never panic.

use proptest::prelude::*;
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::framer::{frame_all, Event, Framer, FramerMode, MAX_FRAME};
use smart_connect_sim::protocol::tic::{self, TicKind};
use smart_connect_sim::protocol::{ErrorKind, Protocol, Reading};

fn sample_stream(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut r = Reading::empty(Protocol::Dsmr);
        r.timestamp = Some(1_700_000_000 + i as i64);
        r.power_import_w = Some(100.0 * i as f32);
        r.power_export_w = Some(0.0);
        if i % 3 == 2 {
            r.protocol = Protocol::TicStandard;
            out.extend(tic::encode(&r, TicKind::StandardTri));
        } else {
            out.extend(dsmr::encode(&r, DsmrKind::ALL[i % 4]));
        }
    }
    out
}

fn chunked(bytes: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut f = Framer::new(FramerMode::Auto);
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        f.push(&rest[..n], &mut out);
        rest = &rest[n..];
        i += 1;
    }
    f.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn chunking_does_not_change_frames(n in 1usize..6, sizes in prop::collection::vec(1usize..700, 1..20)) {
        let stream = sample_stream(n);
        let whole = frame_all(&stream, FramerMode::Auto);
        prop_assert_eq!(whole.len(), n);
        prop_assert!(whole.iter().all(|e| matches!(e, Event::Frame(_))));
        prop_assert_eq!(chunked(&stream, &sizes), whole);
    }

    #[test]
    fn frames_survive_noise_between_them(
        noise in prop::collection::vec(prop::sample::select(b"abcXYZ0123:;()*\r\n \x00".to_vec()), 1..200),
        sizes in prop::collection::vec(1usize..300, 1..10),
    ) {
        let one = sample_stream(1);
        let mut stream = noise.clone();
        stream.extend(&one);
        stream.extend(&noise);
        stream.extend(&one);
        let frames: Vec<_> = chunked(&stream, &sizes).into_iter().filter_map(|e| match e {
            Event::Frame(f) => Some(f.into_bytes()),
            Event::Error(e) => { assert_eq!(e.kind, ErrorKind::Garbage); None }
        }).collect();
        prop_assert_eq!(frames, vec![one.clone(), one]);
    }

    /// `parity_stripped` belongs to a frame, not to a read: only the frames whose own bytes
    /// carried a parity bit are marked, wherever the reads split the stream and whatever
    /// noisy bytes lie between the frames.
    #[test]
    fn parity_is_flagged_per_frame(
        noisy in prop::collection::vec(any::<bool>(), 1..6),
        garbage_with_parity in any::<bool>(),
        sizes in prop::collection::vec(1usize..900, 1..10),
    ) {
        let one = sample_stream(1);
        let mut stream = Vec::new();
        for &n in &noisy {
            stream.push(if garbage_with_parity { b'a' | 0x80 } else { b'a' });
            stream.extend(one.iter().enumerate().map(|(i, &b)| if n && i % 7 == 3 { b | 0x80 } else { b }));
        }
        let flags: Vec<bool> = chunked(&stream, &sizes).into_iter().filter_map(|e| match e {
            Event::Frame(f) => { assert_eq!(f.bytes(), one); Some(f.parity_stripped) }
            Event::Error(_) => None,
        }).collect();
        prop_assert_eq!(flags, noisy);
    }

    #[test]
    fn random_bytes_never_panic_and_memory_stays_bounded(bytes in prop::collection::vec(any::<u8>(), 0..20_000)) {
        for ev in frame_all(&bytes, FramerMode::Auto) {
            if let Event::Frame(f) = ev {
                prop_assert!(f.bytes().len() <= MAX_FRAME);
                let _ = f.parse(Default::default());
            }
        }
    }
}

#[test]
fn oversized_frame_is_dropped_and_the_framer_resyncs() {
    let mut stream = b"/XXX5 huge\r\n".to_vec();
    stream.extend(std::iter::repeat_n(b'7', MAX_FRAME * 3));
    let good = sample_stream(1);
    stream.extend(&good);
    let events = frame_all(&stream, FramerMode::Auto);
    assert!(
        matches!(&events[0], Event::Error(e) if e.kind == ErrorKind::TooLarge && e.offset == 0)
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(&events[1], Event::Frame(f) if f.bytes() == good));
}

#[test]
fn a_new_telegram_before_the_end_marks_the_old_one_truncated() {
    let good = sample_stream(1);
    let mut stream = good[..200].to_vec();
    stream.extend(&good);
    let events = frame_all(&stream, FramerMode::Auto);
    assert!(
        matches!(&events[0], Event::Error(e) if e.kind == ErrorKind::Truncated && e.offset == 200)
    );
    assert!(matches!(&events[1], Event::Frame(f) if f.offset == 200 && f.bytes() == good));
}

#[test]
fn p1_mode_ignores_tic_and_tic_mode_ignores_p1() {
    let stream = sample_stream(3);
    // TIC bytes may contain '/' and '!' (checksum characters): in P1 mode they can form a
    // frame, which the parser then rejects. Only real telegrams parse.
    let valid = |mode| {
        frame_all(&stream, mode)
            .into_iter()
            .filter(|e| matches!(e, Event::Frame(f) if f.parse(Default::default()).is_ok()))
            .count()
    };
    assert_eq!(valid(FramerMode::P1), 2);
    assert_eq!(valid(FramerMode::Tic), 1);
}

#[test]
fn parity_bits_are_stripped_across_the_stream() {
    let good = sample_stream(1);
    let noisy: Vec<u8> = good.iter().map(|b| b | 0x80).collect();
    let events = frame_all(&noisy, FramerMode::P1);
    let [Event::Frame(f)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(f.bytes(), good);
    assert!(f.parity_stripped);
    let t = f.parse(Default::default()).unwrap();
    assert!(t
        .quirks
        .contains(&smart_connect_sim::protocol::Quirk::ParityStripped));
}
