//! The MQTT CONNECT at the start of a stream (client id, username; MQTT 3.1, 3.1.1 and 5),
//! a CONNECT to send, the same CONNECT with other credentials (the TLS front logs in to the
//! internal listener for the device), the packet boundaries and PUBLISH topics of the stream
//! after it (the fronts' `cmd/#` rule), and the subject CN of a client certificate.

/// The subject CN of a DER certificate.
pub fn cert_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

/// The result of looking for an MQTT CONNECT at the start of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectParse {
    Incomplete,
    Invalid,
    Done {
        client_id: String,
        username: Option<String>,
    },
}

/// Parse the CONNECT packet at the start of `b` (MQTT 3.1, 3.1.1 and 5).
pub fn parse_connect(b: &[u8]) -> ConnectParse {
    use ConnectParse::*;
    let Some(&first) = b.first() else {
        return Incomplete;
    };
    if first != 0x10 {
        return Invalid;
    }
    let Some((len, hdr)) = varint(&b[1..]) else {
        return if b.len() < 5 { Incomplete } else { Invalid };
    };
    let start = 1 + hdr;
    let Some(body) = b.get(start..start + len) else {
        return Incomplete;
    };
    let mut r = Reader(body);
    let parse = |r: &mut Reader| -> Option<(String, Option<String>)> {
        let name = r.bytes()?;
        if name != b"MQTT" && name != b"MQIsdp" {
            return None;
        }
        let level = r.u8()?;
        let flags = r.u8()?;
        r.take(2)?; // keep alive
        if level == 5 {
            let (n, used) = varint(r.0)?;
            r.take(used + n)?;
        }
        let client_id = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        if flags & 0x04 != 0 {
            if level == 5 {
                let (n, used) = varint(r.0)?;
                r.take(used + n)?;
            }
            r.bytes()?; // will topic
            r.bytes()?; // will payload
        }
        let username = if flags & 0x80 != 0 {
            Some(String::from_utf8(r.bytes()?.to_vec()).ok()?)
        } else {
            None
        };
        Some((client_id, username))
    };
    match parse(&mut r) {
        Some((client_id, username)) => Done {
            client_id,
            username,
        },
        None => Invalid,
    }
}

/// The CONNECT at the start of `b` (MQTT 3.1 / 3.1.1 only: rumqttd speaks nothing else) with
/// its username and password replaced by `user` / `pass`, everything else (flags, keep alive,
/// client id, will) kept; and how many bytes of `b` it took. `None`: not a complete 3.1.x
/// CONNECT.
pub fn with_credentials(b: &[u8], user: &str, pass: &str) -> Option<(Vec<u8>, usize)> {
    if *b.first()? != 0x10 {
        return None;
    }
    let (len, hdr) = varint(b.get(1..)?)?;
    let start = 1 + hdr;
    let body = b.get(start..start + len)?;
    let mut r = Reader(body);
    let name = r.bytes()?;
    if name != b"MQTT" && name != b"MQIsdp" {
        return None;
    }
    if !matches!(r.u8()?, 3 | 4) {
        return None;
    }
    let flags_at = body.len() - r.0.len();
    let flags = r.u8()?;
    r.take(2)?; // keep alive
    r.bytes()?; // client id
    if flags & 0x04 != 0 {
        r.bytes()?; // will topic
        r.bytes()?; // will payload
    }
    let kept = body.len() - r.0.len();
    let mut new = Vec::with_capacity(kept + user.len() + pass.len() + 4);
    new.extend_from_slice(&body[..flags_at]);
    new.push(flags | 0xC0);
    new.extend_from_slice(&body[flags_at + 1..kept]);
    for f in [user.as_bytes(), pass.as_bytes()] {
        new.extend_from_slice(&u16::try_from(f.len()).ok()?.to_be_bytes());
        new.extend_from_slice(f);
    }
    let mut out = vec![0x10];
    encode_len(&mut out, new.len());
    out.extend_from_slice(&new);
    Some((out, start + len))
}

/// Where the first MQTT packet in `b` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NextPacket {
    Incomplete,
    /// Its length in bytes (fixed header included).
    Complete(usize),
    /// A remaining length longer than `max` or malformed.
    Invalid,
}

/// The extent of the first packet in `b`, refusing packets whose body exceeds `max` bytes.
pub(super) fn next_packet(b: &[u8], max: usize) -> NextPacket {
    if b.is_empty() {
        return NextPacket::Incomplete;
    }
    match varint(&b[1..]) {
        None if b.len() < 5 => NextPacket::Incomplete,
        None => NextPacket::Invalid,
        Some((len, _)) if len > max => NextPacket::Invalid,
        Some((len, used)) if b.len() >= 1 + used + len => NextPacket::Complete(1 + used + len),
        Some(_) => NextPacket::Incomplete,
    }
}

/// The topic of a complete MQTT 3.1.x PUBLISH packet; `None` for other packets.
pub(super) fn publish_topic(packet: &[u8]) -> Option<String> {
    if packet.first()? >> 4 != 3 {
        return None;
    }
    let (_, used) = varint(&packet[1..])?;
    let mut r = Reader(packet.get(1 + used..)?);
    Some(String::from_utf8_lossy(r.bytes()?).into_owned())
}

/// An MQTT variable byte integer: (value, bytes used); `None` when incomplete or too long.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &byte) in b.iter().take(4).enumerate() {
        v |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (h, t) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let l = self.take(2)?;
        self.take(usize::from(u16::from_be_bytes([l[0], l[1]])))
    }
}

/// An MQTT 3.1.1 CONNECT (clean session, keep alive 10 s).
pub fn connect_packet(client_id: &str, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let field = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s);
    };
    let mut body = Vec::new();
    field(&mut body, b"MQTT");
    body.push(4);
    body.push(0x02 | if credentials.is_some() { 0xC0 } else { 0 });
    body.extend_from_slice(&10u16.to_be_bytes());
    field(&mut body, client_id.as_bytes());
    if let Some((u, p)) = credentials {
        field(&mut body, u.as_bytes());
        field(&mut body, p.as_bytes());
    }
    let mut out = vec![0x10];
    encode_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Append an MQTT remaining length.
fn encode_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::certs::TestPki;

    #[test]
    fn parses_connect_packets() {
        let p = connect_packet("02584D0A1B2C", Some(("meter", "secret")));
        assert_eq!(
            parse_connect(&p),
            ConnectParse::Done {
                client_id: "02584D0A1B2C".into(),
                username: Some("meter".into())
            }
        );
        for cut in 0..p.len() {
            assert_eq!(
                parse_connect(&p[..cut]),
                ConnectParse::Incomplete,
                "cut at {cut}"
            );
        }
        assert_eq!(
            parse_connect(&connect_packet("x", None)),
            ConnectParse::Done {
                client_id: "x".into(),
                username: None
            }
        );
        assert_eq!(parse_connect(b"GET / HTTP/1.1\r\n"), ConnectParse::Invalid);
        // A long CONNECT: two-byte remaining length.
        let long = "A".repeat(300);
        assert_eq!(
            parse_connect(&connect_packet(&long, None)),
            ConnectParse::Done {
                client_id: long,
                username: None
            }
        );
    }

    #[test]
    fn parses_an_mqtt5_connect_with_properties_and_will() {
        // MQTT 5: properties after keep alive, will properties before the will topic.
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02 | 0x04 | 0x80, 0, 30];
        body.extend_from_slice(&[3, 0x21, 0x00, 0x10]); // properties: receive maximum
        body.extend_from_slice(&[0, 2, b'i', b'd']);
        body.extend_from_slice(&[0]); // will properties: none
        body.extend_from_slice(&[0, 1, b't', 0, 1, b'p']);
        body.extend_from_slice(&[0, 1, b'u']);
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        assert_eq!(
            parse_connect(&p),
            ConnectParse::Done {
                client_id: "id".into(),
                username: Some("u".into())
            }
        );
    }

    #[test]
    fn replaces_the_credentials_and_keeps_the_rest() {
        let p = connect_packet("02584D0A1B2C", None);
        let mut stream = p.clone();
        stream.extend_from_slice(&[0x82, 0x05, 0, 1, 0, 0, 0]); // a SUBSCRIBE after it
        let (new, used) = with_credentials(&stream, "front", "s3cret").unwrap();
        assert_eq!(used, p.len());
        assert_eq!(
            new,
            connect_packet("02584D0A1B2C", Some(("front", "s3cret")))
        );
        // Credentials that were there are replaced.
        let (new, _) =
            with_credentials(&connect_packet("x", Some(("u", "p"))), "front", "k").unwrap();
        assert_eq!(new, connect_packet("x", Some(("front", "k"))));
        // With a will: kept, credentials after it.
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02 | 0x04, 0, 30];
        body.extend_from_slice(&[0, 2, b'i', b'd', 0, 1, b't', 0, 1, b'p']);
        let mut will = vec![0x10, body.len() as u8];
        will.extend_from_slice(&body);
        let (new, _) = with_credentials(&will, "f", "k").unwrap();
        assert_eq!(
            parse_connect(&new),
            ConnectParse::Done {
                client_id: "id".into(),
                username: Some("f".into())
            }
        );
        assert_eq!(new[9], 0x02 | 0x04 | 0xC0);
        assert!(new.ends_with(&[0, 1, b't', 0, 1, b'p', 0, 1, b'f', 0, 1, b'k']));
        assert_eq!(with_credentials(&p[..p.len() - 1], "f", "k"), None);
        assert_eq!(with_credentials(b"GET /", "f", "k"), None);
    }

    #[test]
    fn finds_packet_ends_and_publish_topics() {
        let mut publish = vec![0x30, 0];
        publish.extend_from_slice(&[0, 5]);
        publish.extend_from_slice(b"a/cmd");
        publish.extend_from_slice(b"payload");
        publish[1] = (publish.len() - 2) as u8;
        assert_eq!(
            next_packet(&publish, 1024),
            NextPacket::Complete(publish.len())
        );
        assert_eq!(next_packet(&publish[..4], 1024), NextPacket::Incomplete);
        assert_eq!(next_packet(&publish, 3), NextPacket::Invalid);
        assert_eq!(
            next_packet(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], 1 << 30),
            NextPacket::Invalid
        );
        assert_eq!(publish_topic(&publish).as_deref(), Some("a/cmd"));
        assert_eq!(publish_topic(&[0xC0, 0]), None, "PINGREQ");
    }

    #[test]
    fn reads_the_cn_of_a_test_certificate() {
        let pki = TestPki::new("02584D0A1B2C").unwrap();
        assert_eq!(
            cert_cn(pki.client().cert_der().as_ref()).as_deref(),
            Some("02584D0A1B2C")
        );
        assert_eq!(cert_cn(b"not a certificate"), None);
    }
}
