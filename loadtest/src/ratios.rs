//! Medians over repeated runs, and the comparison table: each Helpline figure next to its
//! reference, with the ratio and the target.

use std::collections::BTreeMap;

use crate::Kind;
use crate::report::{self, Phase, Report};

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn median_opt(values: Vec<Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.into_iter().flatten().collect();
    (!present.is_empty()).then(|| median(present))
}

/// The medians of one phase over runs; counts (ok, errors, expected, arrived) are summed.
fn median_phase(runs: &[&Phase]) -> Phase {
    let mut phase = Phase {
        name: runs[0].name.clone(),
        ..Phase::default()
    };
    for run in runs {
        phase.ok += run.ok;
        for (kind, count) in &run.errors {
            *phase.errors.entry(kind.clone()).or_default() += count;
        }
        if let (Some(e), Some(a)) = (run.expected, run.arrived) {
            phase.expected = Some(phase.expected.unwrap_or(0) + e);
            phase.arrived = Some(phase.arrived.unwrap_or(0) + a);
        }
    }
    let pick = |f: fn(&Phase) -> f64| median(runs.iter().map(|p| f(p)).collect());
    let pick_opt = |f: fn(&Phase) -> Option<f64>| median_opt(runs.iter().map(|p| f(p)).collect());
    phase.seconds = pick(|p| p.seconds);
    phase.rate = pick(|p| p.rate);
    phase.p50_ms = pick(|p| p.p50_ms);
    phase.p99_ms = pick(|p| p.p99_ms);
    phase.max_ms = pick(|p| p.max_ms);
    phase.server_cpu_us_per_op = pick_opt(|p| p.server_cpu_us_per_op);
    phase.server_cpu_percent = pick_opt(|p| p.server_cpu_percent);
    phase.client_cpu_percent = pick_opt(|p| p.client_cpu_percent);
    phase.rss_kib_per_socket = pick_opt(|p| p.rss_kib_per_socket);
    phase
}

/// The median report of several runs of one scenario on one server.
pub fn median_report(runs: &[Report]) -> Report {
    let phases = (0..runs[0].phases.len())
        .map(|i| {
            median_phase(
                &runs
                    .iter()
                    .filter_map(|r| r.phases.get(i))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Report {
        scenario: format!(
            "{} (median of {} runs; counts summed)",
            runs[0].scenario,
            runs.len()
        ),
        target: runs[0].target.clone(),
        phases,
    }
}

/// One line of the comparison: a Helpline figure, its reference, and the target.
struct Line {
    label: &'static str,
    scenario: &'static str,
    phase: &'static str,
    reference: Kind,
    figure: fn(&Phase) -> Option<f64>,
    target: &'static str,
}

const LINES: &[Line] = &[
    Line {
        label: "GET /cases/{id} req/s",
        scenario: "rest-read",
        phase: "GET /cases/{id}",
        reference: Kind::Sqlite,
        figure: |p| Some(p.rate),
        target: "≥ 0.5× sqlite",
    },
    Line {
        label: "GET /cases/{id} req/s",
        scenario: "rest-read",
        phase: "GET /cases/{id}",
        reference: Kind::Hello,
        figure: |p| Some(p.rate),
        target: "",
    },
    Line {
        label: "GET /cases/{id} server CPU µs/req",
        scenario: "rest-read",
        phase: "GET /cases/{id}",
        reference: Kind::Sqlite,
        figure: |p| p.server_cpu_us_per_op,
        target: "≤ 200 µs",
    },
    Line {
        label: "GET /cases/{id} p99 ms",
        scenario: "rest-read",
        phase: "GET /cases/{id}",
        reference: Kind::Sqlite,
        figure: |p| Some(p.p99_ms),
        target: "",
    },
    Line {
        label: "GET /cases?filters req/s",
        scenario: "rest-read",
        phase: "GET /cases?",
        reference: Kind::Sqlite,
        figure: |p| Some(p.rate),
        target: "",
    },
    Line {
        label: "GET /cases?filters server CPU µs/req",
        scenario: "rest-read",
        phase: "GET /cases?",
        reference: Kind::Sqlite,
        figure: |p| p.server_cpu_us_per_op,
        target: "",
    },
    Line {
        label: "POST /cases req/s",
        scenario: "rest-write",
        phase: "POST /cases",
        reference: Kind::Sqlite,
        figure: |p| Some(p.rate),
        target: "",
    },
    Line {
        label: "POST /cases server CPU µs/req",
        scenario: "rest-write",
        phase: "POST /cases",
        reference: Kind::Sqlite,
        figure: |p| p.server_cpu_us_per_op,
        target: "",
    },
    Line {
        label: "POST /communications req/s (subscribers: Helpline only)",
        scenario: "rest-write",
        phase: "POST /communications",
        reference: Kind::Sqlite,
        figure: |p| Some(p.rate),
        target: "≥ 0.5× sqlite",
    },
    Line {
        label: "POST /communications p99 ms",
        scenario: "rest-write",
        phase: "POST /communications",
        reference: Kind::Sqlite,
        figure: |p| Some(p.p99_ms),
        target: "≤ 25 ms",
    },
    Line {
        label: "POST /communications server CPU µs/req",
        scenario: "rest-write",
        phase: "POST /communications",
        reference: Kind::Sqlite,
        figure: |p| p.server_cpu_us_per_op,
        target: "",
    },
    Line {
        label: "fanout flat out: deliveries/s",
        scenario: "fanout",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| Some(p.rate),
        target: "",
    },
    Line {
        label: "fanout flat out: server CPU µs/delivery",
        scenario: "fanout",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| p.server_cpu_us_per_op,
        target: "≤ 1.0 µs",
    },
    Line {
        label: "fanout flat out: p99 ms",
        scenario: "fanout",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| Some(p.p99_ms),
        target: "",
    },
    Line {
        label: "fanout flat out: lost (all runs)",
        scenario: "fanout",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| p.lost().map(|l| l as f64),
        target: "0",
    },
    Line {
        label: "fanout at fixed rate: p99 ms",
        scenario: "fanout-rate",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| Some(p.p99_ms),
        target: "≤ 1.5× relay",
    },
    Line {
        label: "fanout at fixed rate: lost (all runs)",
        scenario: "fanout-rate",
        phase: "deliveries",
        reference: Kind::Relay,
        figure: |p| p.lost().map(|l| l as f64),
        target: "0",
    },
    Line {
        label: "idle: server RSS KiB/socket",
        scenario: "idle",
        phase: "",
        reference: Kind::Relay,
        figure: |p| p.rss_kib_per_socket,
        target: "≤ 10 KiB",
    },
];

fn find<'a>(
    medians: &'a BTreeMap<(String, String), Report>,
    scenario: &str,
    kind: Kind,
    phase: &str,
) -> Option<&'a Phase> {
    let report = medians.get(&(scenario.to_string(), format!("{kind:?}")))?;
    report.phases.iter().find(|p| p.name.starts_with(phase))
}

pub fn print_comparison(medians: &BTreeMap<(String, String), Report>) {
    println!("\nHelpline against the references (medians)");
    let header = ["figure", "Helpline", "reference", "ratio", "target"];
    let fmt = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    let rows: Vec<Vec<String>> = LINES
        .iter()
        .filter_map(|line| {
            let ours = (line.figure)(find(medians, line.scenario, Kind::Helpline, line.phase)?)?;
            let theirs =
                find(medians, line.scenario, line.reference, line.phase).and_then(line.figure);
            let ratio = theirs
                .filter(|t| *t > 0.0)
                .map_or("-".into(), |t| format!("{:.2}×", ours / t));
            let reference = theirs.map_or("-".into(), |t| {
                format!("{} ({:?})", fmt(t), line.reference).to_lowercase()
            });
            Some(vec![
                line.label.to_string(),
                fmt(ours),
                reference,
                ratio,
                line.target.to_string(),
            ])
        })
        .collect();
    report::print_rows(&header, &rows);
}
