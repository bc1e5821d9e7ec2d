//! CloudWatch Embedded Metric Format: one JSON log line that CloudWatch turns into metrics
//! in namespace [`NAMESPACE`], with no API call from the function. The processor and the
//! aggregator print one per invocation.

use serde_json::{Map, Value, json};

/// The metrics namespace (the Terraform dashboard and alarms read it).
pub const NAMESPACE: &str = "EventPipeline";

/// One metric of a line: its name, value and CloudWatch unit (`Count`, `Milliseconds`).
pub struct Metric<'a> {
    /// The metric's name in CloudWatch.
    pub name: &'a str,
    /// Its value, a number.
    pub value: Value,
    /// Its CloudWatch unit.
    pub unit: &'a str,
}

impl<'a> Metric<'a> {
    /// A `Count` metric.
    pub fn count(name: &'a str, value: impl Into<Value>) -> Self {
        Self { name, value: value.into(), unit: "Count" }
    }

    /// A `Milliseconds` metric.
    pub fn millis(name: &'a str, value: impl Into<Value>) -> Self {
        Self { name, value: value.into(), unit: "Milliseconds" }
    }
}

/// The EMF line for `metrics` at `timestamp_ms`, with `properties` (searchable in the
/// logs, not metrics) beside them.
pub fn line(timestamp_ms: i64, metrics: &[Metric<'_>], properties: Map<String, Value>) -> String {
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for m in metrics {
        line.insert(m.name.to_owned(), m.value.clone());
    }
    line.extend(properties);
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_declared_and_valued() {
        let text = line(1_000, &[Metric::count("A", 3), Metric::millis("B", 1.5)], Map::from_iter([("k".to_owned(), json!("v"))]));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([{"Name": "A", "Unit": "Count"}, {"Name": "B", "Unit": "Milliseconds"}]));
        assert_eq!((v["A"].clone(), v["B"].clone(), v["k"].clone()), (json!(3), json!(1.5), json!("v")));
        assert_eq!(v["_aws"]["Timestamp"], 1_000);
    }
}
