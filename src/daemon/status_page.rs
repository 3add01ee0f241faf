//! The stats port's HTML page, for a browser or a phone: this node's slots
//! as a bar of running and queued jobs, the jobs running now, and the
//! recent jobs' times as bars. No external assets; refreshes itself.

use super::stats::Stats;

/// A job on this node right now.
pub struct Live {
    pub input: String,
    pub client: String,
    pub ms: u64,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this node".into())
}

/// The whole HTTP response.
pub fn page(stats: &Stats, running: &[Live], queued: usize, slots: usize) -> String {
    let host = esc(&hostname());
    let pct = |n: usize| (n * 100 / slots.max(1)).min(100);
    let mut body = String::with_capacity(4096);
    body.push_str(&format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"2\"><title>tinydcc {host}</title><style>\
body{{font-family:sans-serif;margin:1em;max-width:40em}}\
.bar{{background:#ddd;border-radius:4px;height:1.4em;display:flex;overflow:hidden}}\
.run{{background:#2a7}}.queue{{background:#e90}}.err{{background:#c33}}\
table{{border-collapse:collapse;width:100%}}td{{padding:2px 4px;border-bottom:1px solid #eee}}\
.t{{height:.8em;background:#58c;border-radius:2px}}</style></head><body>\
<h1>tinydcc on {host}</h1>"
    ));
    body.push_str(&format!(
        "<section id=\"slots\"><h2>Slots</h2><div class=\"bar\" title=\"running / queued of {slots} slots\">\
<div class=\"run\" style=\"width:{}%\"></div><div class=\"queue\" style=\"width:{}%\"></div></div>\
<p><b id=\"running\">{}</b> running, <b id=\"queued\">{queued}</b> queued, {slots} slots; \
{} done, {} failed, load {}</p></section>",
        pct(running.len()),
        pct(queued).min(100 - pct(running.len())),
        running.len(),
        stats.compile_ok,
        stats.compile_error + stats.compile_timeout + stats.other,
        crate::decimal::fixed(load1(), 2),
    ));
    if let Some(c) = &stats.cache {
        body.push_str(&format!(
            "<section id=\"cache\"><h2>Result cache</h2><p><b id=\"hits\">{}</b> hits, \
<b id=\"misses\">{}</b> misses, {} entries, <b id=\"cached\">{}</b> bytes held, \
<b id=\"evictions\">{}</b> evictions</p></section>",
            c.hits, c.misses, c.entries, c.bytes, c.evictions
        ));
    }
    body.push_str("<section><h2>Running</h2><table id=\"jobs\">");
    if running.is_empty() {
        body.push_str("<tr><td>idle</td></tr>");
    }
    for j in running {
        body.push_str(&format!(
            "<tr class=\"job\"><td>{}</td><td>{}</td><td>{} ms</td></tr>",
            esc(&j.input),
            esc(&j.client),
            j.ms
        ));
    }
    body.push_str("</table></section><section><h2>Recent jobs</h2><table id=\"recent\">");
    let recent = stats.recent_jobs();
    let longest = recent.iter().map(|r| r.ms).max().unwrap_or(1).max(1);
    for r in recent.iter().rev() {
        body.push_str(&format!(
            "<tr><td>{}</td><td style=\"width:50%\"><div class=\"t{}\" style=\"width:{}%\"></div></td><td>{} ms</td></tr>",
            esc(&r.input),
            if r.ok { "" } else { " err" },
            (r.ms * 100 / longest).max(1),
            r.ms
        ));
    }
    body.push_str("</table></section></body></html>\n");
    format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn load1() -> f64 {
    crate::sys::load_average()[0]
}

/// Does this stats request want the HTML page? `GET /html`, or a browser
/// (Accept: text/html) unless it asks for `/text`; anything else gets
/// distccd's text, as stock tools expect.
pub fn wants_html(request: &[u8]) -> bool {
    let r = String::from_utf8_lossy(request);
    let first = r.lines().next().unwrap_or("");
    if first.starts_with("GET /text") {
        return false;
    }
    first.starts_with("GET /html")
        || r.lines()
            .any(|l| l.to_ascii_lowercase().starts_with("accept:") && l.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_only_when_asked() {
        assert!(wants_html(b"GET /html HTTP/1.0\r\n\r\n"));
        assert!(wants_html(
            b"GET / HTTP/1.1\r\nAccept: text/html,*/*\r\n\r\n"
        ));
        assert!(!wants_html(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(!wants_html(
            b"GET /text HTTP/1.1\r\nAccept: text/html\r\n\r\n"
        ));
        assert!(!wants_html(b""));
    }

    #[test]
    fn page_shows_jobs_escaped() {
        let mut s = Stats::default();
        s.compiled("old<1>.c", "gcc", 40, true);
        let p = page(
            &s,
            &[Live {
                input: "now.c".into(),
                client: "10.0.0.9:5".into(),
                ms: 120,
            }],
            1,
            4,
        );
        assert!(p.starts_with("HTTP/1.0 200 OK\r\nContent-Type: text/html"));
        assert!(p.contains("<td>now.c</td><td>10.0.0.9:5</td><td>120 ms</td>"));
        assert!(p.contains("old&lt;1&gt;.c"));
        assert!(p.contains("http-equiv=\"refresh\""));
        assert!(!p.contains("Result cache"));
        s.cache = Some(crate::store::Counters {
            hits: 7,
            misses: 3,
            bytes: 1234,
            entries: 2,
            evictions: 1,
            corrupt: 0,
        });
        let p = page(&s, &[], 0, 4);
        assert!(p.contains("<b id=\"hits\">7</b> hits, <b id=\"misses\">3</b> misses, 2 entries, <b id=\"cached\">1234</b> bytes held, <b id=\"evictions\">1</b> evictions"));
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external assets"
        );
    }
}
