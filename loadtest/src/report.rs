//! Results: one [`Phase`] per measured step of a scenario (a row of the final table), latency
//! summaries, and printing as a table or JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// One measured step: a kind of request, or the deliveries of a fan-out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phase {
    /// What was measured, e.g. `GET /cases/{id}` or `deliveries`.
    pub name: String,
    /// Successful operations (2xx answers, arrived deliveries, open sockets).
    pub ok: u64,
    /// Failures by status code or error kind.
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the phase, in seconds.
    pub seconds: f64,
    /// Successful operations per second.
    pub rate: f64,
    /// Latency percentiles in milliseconds (request round trip, or POST → socket receipt).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Socket deliveries expected and arrived, where the phase expects any.
    pub expected: Option<u64>,
    pub arrived: Option<u64>,
    /// expected − arrived, filled in for JSON output (see [`Phase::lost`]).
    pub lost: Option<u64>,
    /// Server CPU time (utime + stime) over the phase divided by `ok`, in microseconds.
    pub server_cpu_us_per_op: Option<f64>,
    /// Server CPU use over the phase, in percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// Load generator CPU use over the phase, in percent of one core (it shares the machine).
    pub client_cpu_percent: Option<f64>,
    /// Server RSS growth divided by open sockets, in KiB (idle only).
    pub rss_kib_per_socket: Option<f64>,
    /// Server RSS at the end of the phase, in KiB.
    pub server_rss_kib: Option<u64>,
}

impl Phase {
    /// Deliveries that never arrived (expected − arrived), when deliveries were expected.
    pub fn lost(&self) -> Option<u64> {
        Some(self.expected?.saturating_sub(self.arrived?))
    }

    /// Sets the latency percentiles from samples in microseconds.
    pub fn set_latencies(&mut self, samples: &mut [u32]) {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            f64::from(samples[index]) / 1000.0
        };
        self.p50_ms = at(0.50);
        self.p99_ms = at(0.99);
        self.max_ms = at(1.0);
    }
}

/// A scenario's result: its name, the server it ran against, and its phases.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub phases: Vec<Phase>,
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn opt_u(value: Option<u64>) -> String {
    value.map_or("-".into(), |v| v.to_string())
}

fn errors(phase: &Phase) -> String {
    if phase.errors.is_empty() {
        return "0".into();
    }
    phase
        .errors
        .iter()
        .map(|(kind, count)| format!("{kind}:{count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints the report as an aligned text table.
pub fn print_table(report: &Report) {
    println!("\n{} against {}", report.scenario, report.target);
    let header = [
        "phase",
        "ok",
        "rate/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "expected",
        "arrived",
        "lost",
        "srv µs/op",
        "srv cpu%",
        "gen cpu%",
        "KiB/sock",
    ];
    let rows: Vec<Vec<String>> = report
        .phases
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.ok.to_string(),
                format!("{:.0}", p.rate),
                format!("{:.2}", p.p50_ms),
                format!("{:.2}", p.p99_ms),
                format!("{:.2}", p.max_ms),
                errors(p),
                opt_u(p.expected),
                opt_u(p.arrived),
                opt_u(p.lost()),
                opt(p.server_cpu_us_per_op, 2),
                opt(p.server_cpu_percent, 0),
                opt(p.client_cpu_percent, 0),
                opt(p.rss_kib_per_socket, 2),
            ]
        })
        .collect();
    print_rows(&header, &rows);
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn print_rows(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Prints the reports as a table, or as one JSON document.
pub fn print(reports: &[Report], json: bool) {
    if json {
        let mut reports = reports.to_vec();
        for phase in reports.iter_mut().flat_map(|r| r.phases.iter_mut()) {
            phase.lost = phase.lost();
        }
        match serde_json::to_string_pretty(&reports) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("cannot write JSON: {error}"),
        }
    } else {
        reports.iter().for_each(print_table);
    }
}
