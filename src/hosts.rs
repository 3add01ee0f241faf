//! distcc host lists: the grammar (`man distcc`, src/hosts.c) and where the
//! list comes from (`$DISTCC_HOSTS`, `$DISTCC_DIR/hosts` or `~/.distcc/hosts`,
//! `/etc/distcc/hosts`, in that order, re-read on every invocation).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::protocol::Features;

pub const DEFAULT_PORT: u16 = 3632;
const DEFAULT_REMOTE_SLOTS: u32 = 4;
const DEFAULT_LOCAL_SLOTS: u32 = 2;
/// `--localslots`: compiles at once on this machine when not distributed.
pub const DEFAULT_LOCALSLOTS: u32 = 4;
/// `--localslots_cpp`: local preprocessors at once.
pub const DEFAULT_LOCALSLOTS_CPP: u32 = 8;
pub const SYSTEM_HOSTS_FILE: &str = "/etc/distcc/hosts";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `localhost`: compile here, no daemon.
    Local,
    Tcp {
        host: String,
        port: u16,
    },
    Ssh {
        user: Option<String>,
        host: String,
        command: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The token as written, printed by `--show-hosts`.
    pub spec: String,
    pub mode: Mode,
    pub slots: u32,
    pub lzo: bool,
    pub cpp: bool,
    pub down: bool,
}

impl Host {
    /// The protocol this host's options ask for.
    pub fn features(&self) -> Features {
        Features::from_options(self.lzo, self.cpp)
    }

    pub fn is_local(&self) -> bool {
        self.mode == Mode::Local
    }

    /// The name distcc shows for this host (state files, messages).
    pub fn hostname(&self) -> &str {
        match &self.mode {
            Mode::Local => "localhost",
            Mode::Tcp { host, .. } | Mode::Ssh { host, .. } => host,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostList {
    pub hosts: Vec<Host>,
    pub randomize: bool,
    pub local_slots: u32,
    pub local_slots_cpp: u32,
    /// Where the list came from, for messages.
    pub source: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub source: String,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.source, self.line, self.msg)
        } else {
            // distcc's shape: "$DISTCC_HOSTS contained no hosts; ..."
            write!(f, "{} {}", self.source, self.msg)
        }
    }
}

impl HostError {
    /// An empty list is only a warning (distcc's level): jobs run here.
    /// A malformed one is an error the user must see.
    pub fn level(&self) -> log::Level {
        if self.line == 0 {
            log::Level::Warn
        } else {
            log::Level::Error
        }
    }
}

fn parse_count(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

/// Split `rest` at the first byte in `stops`.
fn split_at_any<'a>(rest: &'a str, stops: &[char]) -> (&'a str, &'a str) {
    match rest.find(|c| stops.contains(&c)) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// `/N` or `=N` at the start of `rest`; returns the count and what follows.
fn take_limit(rest: &str) -> Result<(Option<u32>, &str), String> {
    if let Some(r) = rest.strip_prefix('/').or_else(|| rest.strip_prefix('=')) {
        let (digits, after) = split_at_any(r, &[',', ':', '/']);
        let n = parse_count(digits).ok_or_else(|| format!("bad slot count '{digits}'"))?;
        Ok((Some(n), after))
    } else {
        Ok((None, rest))
    }
}

fn take_options(rest: &str, h: &mut Host) -> Result<(), String> {
    if rest.is_empty() {
        return Ok(());
    }
    let Some(opts) = rest.strip_prefix(',') else {
        return Err(format!("unexpected '{rest}'"));
    };
    for o in opts.split(',') {
        match o {
            "lzo" => h.lzo = true,
            "cpp" => h.cpp = true,
            "down" => h.down = true,
            _ if o == "auth" || o.starts_with("auth=") => {
                return Err("',auth' (GSS-API) is not supported by tinydcc".into())
            }
            _ => return Err(format!("unrecognized option '{o}' in host specification")),
        }
    }
    if h.cpp && !h.lzo {
        return Err("pump mode (',cpp') requires compression (',lzo')".into());
    }
    Ok(())
}

fn parse_host(tok: &str) -> Result<Host, String> {
    let mut h = Host {
        spec: tok.to_string(),
        mode: Mode::Local,
        slots: DEFAULT_REMOTE_SLOTS,
        lzo: false,
        cpp: false,
        down: false,
    };
    if tok == "localhost" || tok.starts_with("localhost/") {
        let (n, rest) = take_limit(&tok["localhost".len()..])?;
        h.slots = n.unwrap_or(DEFAULT_LOCAL_SLOTS);
        take_options(rest, &mut h)?;
        return Ok(h);
    }
    if let Some(at) = tok.find('@') {
        let user = (at > 0).then(|| tok[..at].to_string());
        let (host, rest) = split_at_any(&tok[at + 1..], &['/', ':', ',']);
        if host.is_empty() {
            return Err("missing host name after '@'".into());
        }
        let (n, rest) = take_limit(rest)?;
        let (command, rest) = match rest.strip_prefix(':') {
            Some(r) => {
                let (c, after) = split_at_any(r, &[',']);
                (Some(c.to_string()), after)
            }
            None => (None, rest),
        };
        h.slots = n.unwrap_or(DEFAULT_REMOTE_SLOTS);
        take_options(rest, &mut h)?;
        h.mode = Mode::Ssh {
            user,
            host: host.to_string(),
            command,
        };
        return Ok(h);
    }
    let (host, rest) = if let Some(r) = tok.strip_prefix('[') {
        let end = r.find(']').ok_or("unterminated '[' in IPv6 address")?;
        (&r[..end], &r[end + 1..])
    } else {
        // '=' does not end a bare host name (distcc quirk: "hostb=7" is a name).
        split_at_any(tok, &['/', ':', ','])
    };
    if host.is_empty() {
        return Err("empty host name".into());
    }
    let (mut n, mut rest) = take_limit(rest)?;
    let mut port = DEFAULT_PORT;
    if let Some(r) = rest.strip_prefix(':') {
        let (digits, after) = split_at_any(r, &['/', ',']);
        port = digits
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("bad port '{digits}'"))?;
        rest = after;
        if n.is_none() {
            let (n2, after) = take_limit(rest)?;
            n = n2;
            rest = after;
        }
    }
    h.slots = n.unwrap_or(DEFAULT_REMOTE_SLOTS);
    take_options(rest, &mut h)?;
    h.mode = Mode::Tcp {
        host: host.to_string(),
        port,
    };
    Ok(h)
}

/// Parse a host list. `source` names it in errors (a file name or
/// `$DISTCC_HOSTS`).
pub fn parse(text: &str, source: &str) -> Result<HostList, HostError> {
    let mut list = HostList {
        hosts: Vec::new(),
        randomize: false,
        local_slots: DEFAULT_LOCALSLOTS,
        local_slots_cpp: DEFAULT_LOCALSLOTS_CPP,
        source: source.to_string(),
        warnings: Vec::new(),
    };
    for (lineno, line) in text.lines().enumerate() {
        let err = |msg: String| HostError {
            source: source.to_string(),
            line: lineno + 1,
            msg,
        };
        let line = line.split('#').next().unwrap_or("");
        for tok in line.split_ascii_whitespace() {
            if tok == "--randomize" {
                list.randomize = true;
            } else if let Some(v) = tok.strip_prefix("--localslots_cpp") {
                let v = v
                    .strip_prefix('=')
                    .or_else(|| v.strip_prefix('/'))
                    .unwrap_or("");
                list.local_slots_cpp =
                    parse_count(v).ok_or_else(|| err(format!("bad value in '{tok}'")))?;
            } else if let Some(v) = tok.strip_prefix("--localslots") {
                let v = v
                    .strip_prefix('=')
                    .or_else(|| v.strip_prefix('/'))
                    .unwrap_or("");
                list.local_slots =
                    parse_count(v).ok_or_else(|| err(format!("bad value in '{tok}'")))?;
            } else if tok == "+zeroconf" {
                list.warnings.push(format!(
                    "{source}:{}: +zeroconf is not supported in this build; ignored",
                    lineno + 1
                ));
            } else if tok.starts_with("--") {
                return Err(err(format!("unknown option '{tok}'")));
            } else {
                list.hosts
                    .push(parse_host(tok).map_err(|m| err(format!("'{tok}': {m}")))?);
            }
        }
    }
    Ok(list)
}

/// Where the host list comes from, in distcc's order; `None` if nowhere.
pub fn find_source() -> Option<(String, Option<PathBuf>)> {
    if let Some(v) = std::env::var_os("DISTCC_HOSTS") {
        return Some((v.to_string_lossy().into_owned(), None));
    }
    let candidates = [
        crate::paths::distcc_dir().map(|d| d.join("hosts")),
        Some(PathBuf::from(SYSTEM_HOSTS_FILE)),
    ];
    for p in candidates.into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(&p) {
            return Some((text, Some(p)));
        }
    }
    None
}

/// Load the host list; `Ok(None)` when no list is configured anywhere.
pub fn load() -> Result<Option<HostList>, HostError> {
    let Some((text, path)) = find_source() else {
        return Ok(None);
    };
    let source = path
        .as_deref()
        .map(Path::display)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "$DISTCC_HOSTS".into());
    let list = parse(&text, &source)?;
    if list.hosts.is_empty() {
        return Err(HostError {
            source,
            line: 0,
            msg: "contained no hosts; can't distribute work".into(),
        });
    }
    Ok(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(tok: &str) -> Host {
        let l = parse(tok, "test").unwrap();
        assert_eq!(l.hosts.len(), 1);
        l.hosts.into_iter().next().unwrap()
    }

    fn tcp(h: &Host) -> (&str, u16) {
        match &h.mode {
            Mode::Tcp { host, port } => (host, *port),
            m => panic!("not tcp: {m:?}"),
        }
    }

    #[test]
    fn seed_hosts_file_parses() {
        let l = parse(
            "127.0.0.1/2 192.168.0.1/4 192.168.0.80/2 192.168.0.81/2 192.168.0.82/2\n\
             localhost my_power_machine baalue-01 baalue-02 baalue-03\n",
            "hosts",
        )
        .unwrap();
        assert_eq!(l.hosts.len(), 10);
        assert_eq!(tcp(&l.hosts[0]), ("127.0.0.1", 3632));
        assert_eq!(l.hosts[0].slots, 2);
        assert_eq!(l.hosts[1].slots, 4);
        assert!(l.hosts[5].is_local());
        assert_eq!(l.hosts[5].slots, 2);
        assert_eq!(tcp(&l.hosts[6]), ("my_power_machine", 3632));
        assert_eq!(l.hosts[6].slots, 4);
    }

    #[test]
    fn shipped_example_parses() {
        let l = parse(include_str!("../etc/distcc/hosts"), "etc/distcc/hosts").unwrap();
        assert_eq!(l.hosts.len(), 5);
        assert_eq!(l.hosts.iter().map(|h| h.slots).sum::<u32>(), 12);
    }

    #[test]
    fn distcc_tested_sum_of_slots() {
        // Stock `distcc -j` prints 21 for this list: `hostb=7` is a host
        // name with the default 4 slots, not 7.
        let l = parse(
            "localhost/3 127.0.0.1:3632/6,lzo @b1/2:/opt/bin/distccd,lzo,cpp u@b2 [::1]:3632/2 hostb=7",
            "t",
        )
        .unwrap();
        assert_eq!(l.hosts.iter().map(|h| h.slots).sum::<u32>(), 21);
        assert_eq!(tcp(&l.hosts[5]), ("hostb=7", 3632));
        assert_eq!(
            l.hosts[2].mode,
            Mode::Ssh {
                user: None,
                host: "b1".into(),
                command: Some("/opt/bin/distccd".into())
            }
        );
        assert_eq!(l.hosts[2].features(), Features::PUMP);
        assert_eq!(l.hosts[1].features(), Features::LZO);
        assert_eq!(
            l.hosts[3].mode,
            Mode::Ssh {
                user: Some("u".into()),
                host: "b2".into(),
                command: None
            }
        );
        assert_eq!(tcp(&l.hosts[4]), ("::1", 3632));
    }

    #[test]
    fn ports_limits_options() {
        let h = one("box:4000/3,lzo");
        assert_eq!(tcp(&h), ("box", 4000));
        assert_eq!(h.slots, 3);
        assert!(h.lzo && !h.cpp);
        let h = one("box/3:4000");
        assert_eq!((tcp(&h), h.slots), (("box", 4000), 3));
        let h = one("[fe80::1]:3633,lzo,cpp");
        assert_eq!(tcp(&h), ("fe80::1", 3633));
        assert_eq!(h.features(), Features::PUMP);
        assert!(one("box,down").down);
        assert_eq!(one("box").features(), Features::PLAIN);
    }

    #[test]
    fn global_options_and_comments() {
        let l = parse(
            "# cluster\n--randomize --localslots=3 --localslots_cpp=24 a/2 # fast\nb +zeroconf\n",
            "f",
        )
        .unwrap();
        assert!(l.randomize);
        assert_eq!((l.local_slots, l.local_slots_cpp), (3, 24));
        assert_eq!(l.hosts.len(), 2);
        assert_eq!(l.warnings.len(), 1);
    }

    #[test]
    fn errors_name_source_and_line() {
        for (text, line) in [
            ("a\nb,up\n", 2),
            ("a,cpp", 1),
            ("\n\nbox:notaport", 3),
            ("box/0", 1),
            ("box/x", 1),
            ("[::1", 1),
            ("--bogus", 1),
            ("box:70000", 1),
            ("box,auth", 1),
        ] {
            let e = parse(text, "/etc/distcc/hosts").unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e
                .to_string()
                .starts_with(&format!("/etc/distcc/hosts:{line}:")));
        }
    }
}
