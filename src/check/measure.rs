//! Timing one host: median latency of a few sequential jobs, and the
//! throughput at growing concurrency, from which a `/N` slot count is
//! suggested. Each job is the hello-distcc compile sent exactly as the
//! client sends it (preprocessed here once, then protocol 1 or 2).

use std::time::{Duration, Instant};

use crate::client::pump::Shipment;
use crate::client::remote::{self, SendError, Source};
use crate::client::transport;
use crate::hosts::Host;
use crate::protocol::Features;

/// What every job sends and must get back.
pub struct Job<'a> {
    pub argv: &'a [std::ffi::OsString],
    pub preprocessed: &'a [u8],
    pub reference: &'a [u8],
    pub ssh: &'a [std::ffi::OsString],
    pub timeout: Duration,
}

/// One compile on `host`, plain or (with the include server's list and
/// the argv) pump mode; Ok(elapsed) if the object equals the reference.
pub fn once(
    host: &Host,
    job: &Job,
    pump: Option<(&Shipment, &[std::ffi::OsString])>,
) -> Result<Duration, String> {
    let t = Instant::now();
    let features = if pump.is_some() {
        Features::PUMP
    } else {
        host.features().cpp_on_client()
    };
    let mut conn = transport::open(&host.mode, job.ssh, job.timeout)?;
    // Through the same metered writer as a real job: one copy of the
    // senders in the binary, not one per writer type.
    let mut out = crate::client::speed::Metered::new(&mut conn);
    let sent = match pump {
        Some((files, argv)) => crate::client::pump::send(&mut out, argv, files),
        None => {
            let mut src = Source::Ready(job.preprocessed.to_vec());
            remote::send(&mut out, features, job.argv, &mut src)
        }
    };
    match sent {
        Ok(()) => {}
        Err(SendError::Io(e)) => {
            return Err(match remote::refusal_after_send_error(&mut conn) {
                Some(d) => not_allowed(&d),
                None => e.to_string(),
            })
        }
        Err(SendError::Cpp(_)) => return Err("preprocessing failed".into()),
        Err(SendError::Listed(why)) => return Err(why),
        // --check sends plain protocol 3 only.
        Err(SendError::NoStore(e)) => return Err(e.to_string()),
    }
    let r = remote::receive(&mut conn, features).map_err(|e| match e {
        crate::protocol::ProtoError::AccessDenied(d) => not_allowed(&d),
        crate::protocol::ProtoError::Truncated => {
            "server closed the connection without an answer (access list? compiler whitelist?)"
                .to_string()
        }
        e => e.to_string(),
    })?;
    drop(conn);
    if !r.status.success() {
        let err = String::from_utf8_lossy(&r.stderr);
        let first = err.lines().next().unwrap_or("").to_string();
        return Err(format!(
            "compile failed on the server (status {:#x}) {first}",
            r.status.0
        ));
    }
    if r.object != job.reference {
        return Err("object differs from a local compile".into());
    }
    Ok(t.elapsed())
}

/// The host's access list leaves this client out.
fn not_allowed(d: &crate::protocol::access_denied::Denied) -> String {
    format!(
        "refused: not allowed ({} is not in its --allow list)",
        d.client
    )
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Jobs per second with `k` connections at once, each doing `per` jobs,
/// in `k` child processes (no threads: the binary links none). A child's
/// error comes back as a line on a pipe.
fn throughput(host: &Host, job: &Job, k: usize, per: usize) -> Result<f64, String> {
    use crate::sys::ForkResult;
    use std::io::{Read, Write};
    let t = Instant::now();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
    let mut failed = None;
    let mut children = Vec::new();
    for _ in 0..k {
        match crate::sys::fork() {
            Ok(ForkResult::Child) => {
                let code = match (0..per).try_for_each(|_| once(host, job, None).map(drop)) {
                    Ok(()) => 0,
                    Err(e) => {
                        let _ = std::fs::File::from(w).write_all(format!("{e}\n").as_bytes());
                        1
                    }
                };
                crate::sys::exit_now(code)
            }
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(e) => {
                failed = Some(format!("fork failed: {e}"));
                break;
            }
        }
    }
    drop(w);
    // End of file once every child has exited.
    let mut said = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut said);
    for c in children {
        let ok = matches!(
            nix::sys::wait::waitpid(c, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        );
        if !ok && failed.is_none() {
            failed = Some(match said.lines().next() {
                Some(l) => l.to_string(),
                None => "worker died".to_string(),
            });
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok((k * per) as f64 / t.elapsed().as_secs_f64()),
    }
}

/// Throughput at 1, 2, 4, 8 concurrent jobs, and the suggested slot count:
/// the smallest concurrency within 10% of the best rate (more slots than
/// that only queue on the server and hold client slots).
pub fn suggest_slots(host: &Host, job: &Job) -> Result<(u32, Vec<(usize, f64)>), String> {
    let mut rates = Vec::new();
    for k in [1usize, 2, 4, 8] {
        rates.push((k, throughput(host, job, k, 2)?));
    }
    let best = rates.iter().map(|r| r.1).fold(0.0, f64::max);
    let n = rates
        .iter()
        .find(|r| r.1 >= 0.9 * best)
        .map(|r| r.0)
        .unwrap_or(1);
    Ok((n as u32, rates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workers_error_comes_back_from_its_process() {
        // A port nothing listens on: every worker fails to connect. The
        // workers are forked from this multi-threaded test process; glibc's
        // fork handlers reset malloc's locks, and they print nothing.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let list = crate::hosts::parse(&format!("127.0.0.1:{port}"), "test").unwrap();
        let argv = [std::ffi::OsString::from("gcc")];
        let job = Job {
            argv: &argv,
            preprocessed: b"int x;\n",
            reference: b"",
            ssh: &[],
            timeout: Duration::from_secs(5),
        };
        let e = throughput(&list.hosts[0], &job, 3, 2).unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }
}
