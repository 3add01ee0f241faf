//! The daemon (`tinydcc --daemon`, `tinydccd`, `distccd`): start-up in
//! distccd's order, then the event loop in `event_loop`.

pub(crate) mod access;
pub(crate) mod admission;
pub(crate) mod cache;
pub(crate) mod event_loop;
pub(crate) mod feed;
pub(crate) mod harden;
pub(crate) mod header_store;
pub(crate) mod inetd;
pub(crate) mod job;
pub(crate) mod machine;
pub(crate) mod options;
pub(crate) mod outgoing;
pub(crate) mod pump_job;
pub(crate) mod refusal;
pub(crate) mod sandbox;
pub(crate) mod slots;
pub(crate) mod source_hash;
pub(crate) mod spare_dirs;
pub(crate) mod stats;
pub(crate) mod status_page;
pub(crate) mod trash;
pub(crate) mod whitelist;

use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use crate::exitcode::*;
use crate::logging::{self, Target};
use options::{Options, Parsed};

/// Bind the listening socket the way distccd does (SO_REUSEADDR, backlog 1024).
pub(crate) fn bind(addr: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let try_bind = |sa: SocketAddr| -> io::Result<TcpListener> {
        let s = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        if sa.is_ipv6() && addr.is_none() {
            s.set_only_v6(false)?;
        }
        s.bind(&sa.into())?;
        s.listen(1024)?;
        Ok(s.into())
    };
    match addr {
        Some(a) => try_bind(SocketAddr::new(a, port)),
        // All addresses: dual-stack if the kernel has IPv6, else IPv4.
        None => try_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
            .or_else(|_| try_bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))),
    }
}

/// Switch to `user` (default distcc, else nobody, else 65534) when root.
pub(crate) fn drop_privileges(user: Option<&str>) -> Result<(), String> {
    use nix::unistd::{self, Gid, Uid, User};
    if !unistd::geteuid().is_root() {
        if let Some(u) = user {
            log::debug!("not root; --user {u} ignored");
        }
        return Ok(());
    }
    let found = match user {
        Some(u) => Some(
            User::from_name(u)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no such user '{u}'"))?,
        ),
        None => User::from_name("distcc")
            .ok()
            .flatten()
            .or_else(|| User::from_name("nobody").ok().flatten()),
    };
    let (uid, gid) = found
        .map(|u| (u.uid, u.gid))
        .unwrap_or((Uid::from_raw(65534), Gid::from_raw(65534)));
    unistd::setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
    unistd::setgid(gid).map_err(|e| format!("setgid: {e}"))?;
    unistd::setuid(uid).map_err(|e| format!("setuid: {e}"))?;
    let _ = nix::sys::prctl::set_no_new_privs();
    log::debug!("running as uid {uid} gid {gid}");
    Ok(())
}

/// Whom to serve: `--allow` if given, else the clients.allow file. An
/// empty result refuses everyone (distccd 3.4 would let everyone in).
/// `false`: the file does not exist.
fn allow_list(o: &Options) -> Result<(Vec<access::Cidr>, bool), String> {
    if !o.allow.is_empty() {
        return Ok((o.allow.clone(), true));
    }
    match std::fs::read_to_string(&o.allow_file) {
        Ok(text) => Ok((access::parse_allow_file(&text, &o.allow_file)?, true)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), false)),
        Err(e) => Err(format!(
            "{}: {}",
            o.allow_file.display(),
            crate::errtext::reason(&e)
        )),
    }
}

/// What is missing when nobody may connect, and the fix.
fn nobody_allowed(file: &Path, exists: bool) -> String {
    let f = file.display();
    if exists {
        format!(
            "no --allow given and {f} lists no clients: every client will be refused; \
             add your network to {f} (a line such as 192.168.0.0/24) or start with --allow 192.168.0.0/24"
        )
    } else {
        format!(
            "no --allow given and {f} does not exist: every client will be refused; \
             start with --allow 192.168.0.0/24 (your network) or create {f} listing it"
        )
    }
}

/// A failed bind, naming the option and value at fault.
fn bind_error(option: &str, listen: Option<IpAddr>, port: u16, e: &io::Error) -> String {
    let text = crate::errtext::reason(e);
    let on = listen.map(|a| format!(" on {a}")).unwrap_or_default();
    match (e.raw_os_error(), listen) {
        (Some(libc::EADDRNOTAVAIL), Some(a)) => {
            format!("--listen {a}: {text} (no interface of this machine has that address)")
        }
        (Some(libc::EADDRINUSE), _) => {
            format!("{option} {port}{on}: {text} (is another distccd running?)")
        }
        (Some(libc::EACCES), _) => {
            format!("{option} {port}{on}: {text} (ports below 1024 need root)")
        }
        _ => format!("{option} {port}{on}: {text}"),
    }
}

/// Open (and create) the log file as the logger will: append, mode 0666.
fn logging_file_usable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o666)
        .open(path)
        .map(drop)
}

fn write_pid_file(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, path)
}

/// Detach from the terminal: fork, let the parent exit, start a new session.
fn detach() -> io::Result<()> {
    use crate::sys::ForkResult;
    use nix::unistd::setsid;
    // Single-threaded at this point; the child only continues normally.
    match crate::sys::fork().map_err(io::Error::from)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid().map_err(io::Error::from)?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::unix::io::AsRawFd;
    for fd in 0..3 {
        let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
    }
    Ok(())
}

/// Connections the descriptor limit (`ulimit -n`) leaves room for,
/// beside a few of the daemon's own and the directories a pump job's
/// layout holds open.
fn fd_budget() -> usize {
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let reserved = 16 + pump_job::MAX_HELD as u64;
    (limit.saturating_sub(reserved) / 3).clamp(2, usize::MAX as u64) as usize
}

pub(crate) fn server_config(o: &Options, allow: Vec<access::Cidr>) -> event_loop::Config {
    let io_timeout = std::env::var("DISTCC_IO_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(300);
    event_loop::Config {
        allow,
        policy: whitelist::policy(o.insecure, &o.whitelist_dir),
        jobs: o.jobs as usize,
        tmp: crate::paths::tmpdir(),
        io_timeout: Duration::from_secs(io_timeout),
        job_lifetime: (o.job_lifetime > 0).then(|| Duration::from_secs(o.job_lifetime)),
        // Room for slow senders beside the compiling and queued clients,
        // within what the descriptor limit allows (about three each while
        // a job is received and spawned, plus a reserve for the daemon).
        max_conns: (64 + 4 * o.jobs as usize).min(fd_budget()),
        max_queued: 2 * o.jobs as usize,
        sandbox: if o.no_sandbox { None } else { sandbox::abi() },
        limits: Default::default(),
        header_store: o.header_store.clone(),
        cache: o.cache.clone(),
        // Tests make a host short of memory with this (bytes).
        memory: admission::Reader::new(
            std::env::var("TINYDCCD_MEM_AVAILABLE")
                .ok()
                .and_then(|v| v.parse().ok()),
        ),
    }
}

pub fn main(args: Vec<OsString>) -> i32 {
    let o = match options::parse(args) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            print!("{}", options::HELP);
            return 0;
        }
        Ok(Parsed::Version) => {
            print!("{}", crate::version::text("tinydccd"));
            return 0;
        }
        Err(e) => {
            // The name the daemon logs under (syslog ident, log lines).
            eprintln!("distccd: {e}");
            return EXIT_BAD_ARGUMENTS;
        }
    };
    let inetd = o.inetd || (!o.daemon && inetd::stdin_is_socket());
    // A log file is tried here first, so that when it cannot be opened the
    // message names the option and file; like distccd, carry on on stderr.
    let mut log_file_error = None;
    let target = if o.log_stderr {
        Target::Stderr
    } else if let Some(f) = &o.log_file {
        match logging_file_usable(f) {
            Ok(()) => Target::File(f.clone()),
            Err(e) => {
                log_file_error = Some((f, crate::errtext::reason(&e)));
                Target::Stderr
            }
        }
    } else if inetd {
        Target::SyslogOrQuiet
    } else {
        Target::Syslog
    };
    logging::init("distccd", target, o.log_level);
    if let Some((f, why)) = log_file_error {
        log::error!("--log-file {}: {why}; logging to stderr", f.display());
    }
    if o.zeroconf {
        log::warn!("--zeroconf is not supported in this build; continuing without it");
    }
    let (allow, allow_file_exists) = match allow_list(&o) {
        Ok(a) => a,
        Err(e) => {
            log::error!("{e}");
            return EXIT_BAD_ARGUMENTS;
        }
    };
    if let Some(p) = std::env::var_os("DISTCCD_PATH") {
        std::env::set_var("PATH", p);
    }
    if o.nice != 0 {
        // Only our own priority; compilers inherit it.
        crate::sys::nice(o.nice);
    }
    if inetd {
        if let Err(e) = drop_privileges(o.user.as_deref()) {
            log::error!("cannot drop root privileges: {e}");
            return EXIT_SETUID_FAILED;
        }
        let tmp = crate::paths::tmpdir();
        let _ = std::env::set_current_dir(&tmp);
        let policy = whitelist::policy(o.insecure, &o.whitelist_dir);
        let sandbox = if o.no_sandbox { None } else { sandbox::abi() };
        return inetd::serve(
            &allow,
            &policy,
            &tmp,
            sandbox,
            o.header_store.clone(),
            o.cache.clone(),
        );
    }
    if allow.is_empty() {
        log::warn!("{}", nobody_allowed(&o.allow_file, allow_file_exists));
    }
    let listener = match bind(o.listen, o.port) {
        Ok(l) => l,
        Err(e) => {
            log::error!("{}", bind_error("--port", o.listen, o.port, &e));
            return EXIT_BIND_FAILED;
        }
    };
    if !o.no_detach {
        if let Err(e) = detach() {
            log::error!("cannot detach: {}", crate::errtext::reason(&e));
            return EXIT_DISTCC_FAILED;
        }
    }
    if let Some(p) = &o.pid_file {
        if let Err(e) = write_pid_file(p) {
            log::error!("--pid-file {}: {}", p.display(), crate::errtext::reason(&e));
            return EXIT_DISTCC_FAILED;
        }
    }
    if let Err(e) = drop_privileges(o.user.as_deref()) {
        log::error!("cannot drop root privileges: {e}");
        return EXIT_SETUID_FAILED;
    }
    let tmp = crate::paths::tmpdir();
    let _ = std::env::set_current_dir(&tmp);
    let stale = job::JobDir::remove_stale(&tmp);
    if stale > 0 {
        log::info!("removed {stale} job directories left by a daemon that died");
    }
    let cfg = server_config(&o, allow);
    match &cfg.policy {
        whitelist::Policy::Insecure => {
            log::warn!("compiler whitelist disabled (--enable-tcp-insecure)")
        }
        whitelist::Policy::Builtin => log::warn!(
            "{} is missing or empty: allowing well-known compiler drivers found on PATH",
            o.whitelist_dir.display()
        ),
        whitelist::Policy::Dir(d) => log::debug!("compiler whitelist: {}", d.display()),
    }
    match cfg.sandbox {
        Some(abi) => log::info!(
            "Landlock ABI {abi} active: each compiler may read the system and toolchain directories and write only its job directory"
        ),
        None if o.no_sandbox => log::warn!("--no-sandbox: compilers are not confined"),
        None => log::warn!(
            "{}: compilers are not confined to their job directory",
            sandbox::why_unavailable()
        ),
    }
    log::info!("memory admission: {}", cfg.memory.describe());
    log::info!(
        "tinydccd {} listening on port {} with {} job slots, scratch in {}",
        env!("CARGO_PKG_VERSION"),
        o.port,
        o.jobs,
        tmp.display()
    );
    let stats_listener = if o.stats {
        match bind(o.listen, o.stats_port) {
            Ok(l) => Some(l),
            Err(e) => {
                log::error!("{}", bind_error("--stats-port", o.listen, o.stats_port, &e));
                return EXIT_BIND_FAILED;
            }
        }
    } else {
        None
    };
    if stats_listener.is_some() {
        log::info!("statistics (--stats) on port {}", o.stats_port);
    }
    let code = match event_loop::Server::new(listener, stats_listener, cfg) {
        Ok(mut s) => s.run(),
        Err(e) => {
            log::error!("cannot start event loop: {}", crate::errtext::reason(&e));
            EXIT_DISTCC_FAILED
        }
    };
    if let Some(p) = &o.pid_file {
        let _ = std::fs::remove_file(p);
    }
    code
}
