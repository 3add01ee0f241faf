//! `--cache-size` values: a byte count with an optional binary suffix.

/// `500M`, `2G`, `64k`, `1T` (powers of 1024, either case, an optional
/// trailing `B` or `iB`) or a plain byte count. Zero is refused: no cache
/// is no `--cache-dir`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad =
        || format!("invalid size '{s}': expected a number of bytes, optionally with K, M, G or T");
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 30),
        Some(b't' | b'T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let n = n.checked_mul(1u64 << shift).ok_or_else(bad)?;
    if n == 0 {
        return Err(format!("invalid size '{s}': must be more than 0"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("123456"), Ok(123456));
        assert_eq!(parse_size("123456B"), Ok(123456));
    }

    #[test]
    fn bad_sizes_say_why() {
        let usage = "expected a number of bytes, optionally with K, M, G or T";
        for s in ["", "M", "-1M", "1.5G", "12X", "G2", "99999999999T", "1 G"] {
            assert_eq!(
                parse_size(s),
                Err(format!("invalid size '{s}': {usage}")),
                "{s}"
            );
        }
        assert_eq!(
            parse_size("0"),
            Err("invalid size '0': must be more than 0".to_string())
        );
    }
}
