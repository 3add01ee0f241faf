//! The one line a tinydcc daemon sends, in place of a reply, to a client
//! outside its access list. distcc has no error token: a stock client that
//! reads this where DONE belongs logs it as the "error context" of its
//! protocol derailment, so the user sees why; tinydcc's client recognises
//! the exact line and says so in its own words.
//!
//! Wire form: `distccd: SERVER refused this client (CLIENT is not in its
//! --allow list)\n`, both addresses as IPs. Printable ASCII up to the
//! newline and well under the ~199 bytes a stock client shows.

use std::fmt;
use std::io::Read;
use std::net::IpAddr;

use super::token::TOKEN_LEN;

/// No reply ever starts like this ("DONE" does): cheap to spot in the
/// first 12 bytes.
const PREFIX: &str = "distccd: ";
const MIDDLE: &str = " refused this client (";
const SUFFIX: &str = " is not in its --allow list)";
/// The longest line accepted, newline included (two full IPv6 addresses
/// take 138 bytes).
pub const MAX_LEN: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// The daemon's address the client reached.
    pub server: IpAddr,
    /// The client's address as the daemon saw it.
    pub client: IpAddr,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{MIDDLE}{}{SUFFIX}", self.server, self.client)
    }
}

/// The bytes the daemon sends.
pub fn line(d: &Denied) -> Vec<u8> {
    format!("{PREFIX}{d}\n").into_bytes()
}

/// Could a reply that starts with `head` (its first token's worth of
/// bytes) be a refusal line?
pub fn may_start(head: &[u8]) -> bool {
    head.starts_with(PREFIX.as_bytes())
}

/// Parse one line (without its newline); `None` unless it is exactly the
/// daemon's form with two valid addresses.
pub fn parse(line: &[u8]) -> Option<Denied> {
    if line.len() >= MAX_LEN {
        return None;
    }
    let s = std::str::from_utf8(line).ok()?;
    let rest = s.strip_prefix(PREFIX)?;
    let (server, rest) = rest.split_once(MIDDLE)?;
    let client = rest.strip_suffix(SUFFIX)?;
    Some(Denied {
        server: server.parse().ok()?,
        client: client.parse().ok()?,
    })
}

/// `head` (the first 12 bytes of a reply) began a refusal: read the rest
/// of the line, at most `MAX_LEN` bytes in all, and parse it.
pub fn read_rest<R: Read>(head: &[u8; TOKEN_LEN], r: &mut R) -> Option<Denied> {
    let mut buf = head.to_vec();
    let mut chunk = [0u8; MAX_LEN];
    loop {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            return parse(&buf[..nl]);
        }
        let room = MAX_LEN.checked_sub(buf.len()).filter(|&n| n > 0)?;
        match r.read(&mut chunk[..room]) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(server: &str, client: &str) -> Denied {
        Denied {
            server: server.parse().unwrap(),
            client: client.parse().unwrap(),
        }
    }

    fn read_all(wire: &[u8]) -> Option<Denied> {
        let mut head = [0u8; TOKEN_LEN];
        head.copy_from_slice(&wire[..TOKEN_LEN]);
        read_rest(&head, &mut &wire[TOKEN_LEN..])
    }

    #[test]
    fn line_round_trips() {
        for d in [
            denied("127.0.0.1", "198.18.1.5"),
            denied(
                "fd00:1111:2222:3333:4444:5555:6666:7777",
                "fd00:aaaa:bbbb:cccc:dddd:eeee:ffff:1234",
            ),
        ] {
            let wire = line(&d);
            assert!(wire.len() <= MAX_LEN, "{}", wire.len());
            assert!(may_start(&wire[..TOKEN_LEN]));
            assert_eq!(read_all(&wire), Some(d));
        }
        assert_eq!(
            line(&denied("127.0.0.1", "198.18.1.5")),
            b"distccd: 127.0.0.1 refused this client (198.18.1.5 is not in its --allow list)\n"
        );
    }

    #[test]
    fn printable_for_a_stock_client() {
        // A stock client shows the bytes up to the first unprintable one.
        let wire = line(&denied("10.0.0.1", "192.168.0.80"));
        let shown = wire
            .iter()
            .take_while(|b| b.is_ascii_graphic() || **b == b' ');
        assert_eq!(shown.count(), wire.len() - 1);
    }

    #[test]
    fn anything_else_is_not_a_refusal() {
        for bad in [
            &b"distccd: 127.0.0.1 refused this client (127.0.0.1 is not in its --allow list)"[..],
            b"distccd: 127.0.0.1 refused this client (127.0.0.1 is not in its --allow list) \n",
            b"distccd: example refused this client (127.0.0.1 is not in its --allow list)\n",
            b"distccd: 127.0.0.1 refused this client (127.0.0.1/8 is not in its --allow list)\n",
            b"distccd: 127.0.0.1 refused this client (127.0.0.1 is in its --allow list)\n",
            b"distccd: oops\n",
            b"distccd: 127.0.0.1\0refused this client (127.0.0.1 is not in its --allow list)\n",
        ] {
            assert_eq!(read_all(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert!(!may_start(b"DONE00000001"));
        assert!(!may_start(b"HTTP/1.0 400"));
    }

    #[test]
    fn reads_no_more_than_max_len() {
        let mut wire = b"distccd: ".to_vec();
        wire.extend(std::iter::repeat_n(b'x', 10_000));
        wire.push(b'\n');
        let mut head = [0u8; TOKEN_LEN];
        head.copy_from_slice(&wire[..TOKEN_LEN]);
        let mut rest = &wire[TOKEN_LEN..];
        assert_eq!(read_rest(&head, &mut rest), None);
        assert_eq!(wire.len() - TOKEN_LEN - rest.len(), MAX_LEN - TOKEN_LEN);
    }
}
