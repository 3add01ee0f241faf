//! Decimal text for the few floating-point numbers tinydcc shows or reads:
//! load averages, milliseconds and jobs per second out; monitor delays in.
//! `format!("{:.2}", x)` and `str::parse::<f64>` bring core's float
//! printing and parsing machinery (Grisu/Dragon, Eisel-Lemire and their
//! tables: about 30 KB of the static ARM binary); these do the same for the
//! ranges used here with integer arithmetic.

use std::time::Duration;

/// `x` with `decimals` digits after the point (at most 3), exactly as
/// `format!("{:.decimals$}", x)` writes it: the exact binary value rounded
/// half to even, `-` for a negative sign bit, `NaN`, `inf`. Exact for
/// |x| < 2^64; larger values saturate (never happens here).
pub fn fixed(x: f64, decimals: u32) -> String {
    let decimals = decimals.min(3);
    if x.is_nan() {
        return "NaN".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // |x| = m * 2^e
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, biased - 1075)
    };
    let scale = 10u64.pow(decimals);
    // |x| * scale, rounded half to even; u64 is enough: m * scale < 2^63.
    let (int, fr) = if e >= 0 {
        let int = if e > 11 { u64::MAX } else { m << e };
        (int, 0)
    } else {
        let sh = (-e) as u32;
        let v = m * scale;
        let n = if sh > 63 {
            0 // v < 2^63 <= half: rounds to zero
        } else {
            let q = v >> sh;
            let r = v & ((1u64 << sh) - 1);
            let half = 1u64 << (sh - 1);
            q + (r > half || (r == half && q & 1 == 1)) as u64
        };
        (n / scale, n % scale)
    };
    if decimals == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{fr:0w$}", w = decimals as usize)
    }
}

/// A delay in seconds as `str::parse::<f64>` reads it (`2`, `0.5`, `.5`,
/// `5.`, `1e-1`, an optional `+`), if it is positive and at least one
/// nanosecond, and fits a `Duration`: the monitors' `[DELAY]` argument.
/// Digits past nanoseconds are dropped.
pub fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    // The decimal exponent, saturated: anything past ±100,000 is far out
    // of range either way.
    let exp: i64 = match exp {
        None => 0,
        Some(t) => {
            let (neg, t) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            if t.is_empty() || !all_digits(t) {
                return None;
            }
            let mag = t
                .bytes()
                .fold(0i64, |a, b| (a * 10 + (b - b'0') as i64).min(100_000));
            if neg {
                -mag
            } else {
                mag
            }
        }
    };
    // All digits, the point after the first `point` of them.
    let digits = int.bytes().chain(frac.bytes()).map(|b| (b - b'0') as u64);
    let point = int.len() as i64 + exp;
    let mut secs: u64 = 0;
    let mut nanos: u64 = 0;
    for (i, d) in digits.enumerate() {
        let i = i as i64;
        if i < point {
            if d != 0 && point - i > 20 {
                return None;
            }
            if point - i <= 20 {
                let p = 10u64.checked_pow((point - 1 - i) as u32)?;
                secs = secs.checked_add(d.checked_mul(p)?)?;
            }
        } else if i - point < 9 {
            nanos += d * 10u64.pow((8 - (i - point)) as u32);
        }
    }
    let d = Duration::new(secs, nanos as u32);
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_matches_format() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.125,
            0.375,
            1.005,
            0.045,
            2.675,
            0.005,
            0.015,
            0.025,
            99.995,
            1e-5,
            5e-324,
            1e15,
            123456.789,
            0.0049999,
            4503599627370495.5,
        ];
        // Load averages as musl computes them: k / 65536.
        xs.extend((0..70_000).map(|k| k as f64 / 65536.0));
        // Milliseconds from nanoseconds, jobs per second.
        xs.extend((0..20_000u64).map(|n| (n * 7919) as f64 / 1e6));
        xs.extend((1..5_000u64).map(|n| 16.0 / (n as f64 * 1e-4)));
        let mut seed = 0x2545f4914f6cdd1du64;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = f64::from_bits(seed);
            if x.is_finite() && x.abs() < 1.8e19 {
                xs.push(x);
            }
            xs.push((seed % 10_000_000) as f64 / 1000.0);
        }
        for x in xs {
            for d in 0..=3 {
                assert_eq!(fixed(x, d), format!("{x:.0$}", d as usize), "{x:e} .{d}");
            }
        }
        assert_eq!(fixed(f64::NAN, 2), "NaN");
        assert_eq!(fixed(f64::INFINITY, 2), "inf");
        assert_eq!(fixed(f64::NEG_INFINITY, 1), "-inf");
    }

    #[test]
    fn parse_secs_reads_what_f64_reads() {
        let ok = [
            "1",
            "2",
            "0.5",
            ".5",
            "5.",
            "+3",
            "1e-1",
            "1E1",
            "2.5e+0",
            "0.25",
            "007",
            "1.000000001",
            "10e-9",
            "1e-9",
            "0.0000000015",
            "86400",
            "3e5",
        ];
        for s in ok {
            let want = Duration::from_secs_f64(s.parse::<f64>().unwrap());
            let got = parse_secs(s).unwrap_or_else(|| panic!("{s} refused"));
            let diff = got.abs_diff(want);
            assert!(diff <= Duration::from_nanos(1), "{s}: {got:?} vs {want:?}");
        }
        let bad = [
            "",
            ".",
            "e1",
            "1e",
            "1e+",
            "-1",
            "0",
            "0.0",
            "-0",
            "+",
            "++1",
            "1.2.3",
            "abc",
            "inf",
            "nan",
            "infinity",
            " 1",
            "1 ",
            "1s",
            "0x10",
            "1e99999999999",
            "1e400",
            "0.0000000001",
            "1e-400",
            "1_0",
        ];
        for s in bad {
            assert_eq!(parse_secs(s), None, "{s} accepted");
        }
    }
}
