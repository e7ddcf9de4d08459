//! Process-wide measurements that several parts feed and `/metrics` renders: request latency per route and
//! plugin call durations per connector and export, as Prometheus histograms. Labels are route templates
//! and names, never a raw path: a path can hold a rep's capability.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds in seconds: from a cached read to a slow PMS round trip.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Label values are ours (route templates, connector and export names), but escape them anyway.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(Default)]
pub struct Metrics {
    /// (route template, method, status class) -> latency.
    http: Mutex<BTreeMap<(String, String, &'static str), Histogram>>,
    /// (connector, export, outcome) -> duration.
    plugin_calls: Mutex<BTreeMap<(String, &'static str, &'static str), Histogram>>,
    /// Connections closed on accept: over the per-address cap, or the server full of busy connections.
    refused_connections: std::sync::atomic::AtomicU64,
    /// Idle connections closed to make room for a new one on a full server.
    evicted_connections: std::sync::atomic::AtomicU64,
}

pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        http.entry((route.to_string(), method.to_string(), status_class(status)))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// `outcome`: ok, refused (the connector answered with an error) or failed (the sandbox stopped it).
    pub fn observe_plugin_call(&self, connector: &str, export: &'static str, outcome: &'static str, took: Duration) {
        let mut calls = self.plugin_calls.lock().unwrap_or_else(|p| p.into_inner());
        calls
            .entry((connector.to_string(), export, outcome))
            .or_default()
            .observe(took.as_secs_f64());
    }

    pub fn count_refused_connection(&self) {
        self.refused_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn count_evicted_connection(&self) {
        self.evicted_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP repbook_connections_evicted_total Idle connections closed to make room on a full server.\n# TYPE repbook_connections_evicted_total counter\nrepbook_connections_evicted_total {}",
            self.evicted_connections.load(std::sync::atomic::Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP repbook_connections_refused_total Connections closed on accept: over the total or per-address cap.\n# TYPE repbook_connections_refused_total counter\nrepbook_connections_refused_total {}",
            self.refused_connections.load(std::sync::atomic::Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP repbook_http_request_duration_seconds Time to answer, by route template, method and status class.\n# TYPE repbook_http_request_duration_seconds histogram"
        );
        for ((route, method, class), histogram) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!(
                "route=\"{}\",method=\"{}\",status=\"{class}\"",
                label(route),
                label(method)
            );
            histogram.render(out, "repbook_http_request_duration_seconds", &labels);
        }
        let _ = writeln!(
            out,
            "# HELP repbook_plugin_call_duration_seconds Connector calls, by connector, export and outcome (ok, refused, failed).\n# TYPE repbook_plugin_call_duration_seconds histogram"
        );
        for ((connector, export, outcome), histogram) in
            self.plugin_calls.lock().unwrap_or_else(|p| p.into_inner()).iter()
        {
            let labels = format!(
                "connector=\"{}\",export=\"{export}\",outcome=\"{outcome}\"",
                label(connector)
            );
            histogram.render(out, "repbook_plugin_call_duration_seconds", &labels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_render_in_prometheus_form() {
        let metrics = Metrics::default();
        for ms in [2, 30, 30, 700] {
            metrics.observe_request("/api/v1/clinics/{clinic}", "GET", 200, Duration::from_millis(ms));
        }
        metrics.observe_request("/api/v1/clinics/{clinic}", "GET", 503, Duration::from_millis(4));
        let mut out = String::new();
        metrics.render(&mut out);
        let line = |needle: &str| {
            out.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("{needle}\n{out}"))
                .to_string()
        };
        let ok = "repbook_http_request_duration_seconds_bucket{route=\"/api/v1/clinics/{clinic}\",method=\"GET\",status=\"2xx\"";
        assert!(line(&format!("{ok},le=\"0.005\"}}")).ends_with(" 1"));
        assert!(line(&format!("{ok},le=\"0.05\"}}")).ends_with(" 3"));
        assert!(line(&format!("{ok},le=\"1\"}}")).ends_with(" 4"));
        assert!(line(&format!("{ok},le=\"+Inf\"}}")).ends_with(" 4"));
        assert!(out.contains("status=\"5xx\",le=\"+Inf\"} 1"));
    }
}
