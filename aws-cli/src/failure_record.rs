//! The on-failure destination's messages: when Lambda gives up on a Kinesis batch
//! (`maximum_retry_attempts` or `maximum_record_age` reached), the event source mapping
//! sends only the batch's metadata, an invocation record such as
//!
//! ```json
//! {"requestContext": {"requestId": "...", "functionArn": "...", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
//!  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
//!  "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
//!  "KinesisBatchInfo": {"shardId": "shardId-000000000001", "startSequenceNumber": "4960...", "endSequenceNumber": "4960...",
//!   "approximateArrivalOfFirstRecord": "...", "approximateArrivalOfLastRecord": "...", "batchSize": 500,
//!   "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}
//! ```
//!
//! (Lambda developer guide, "Retain discarded batch records for a Kinesis Data Streams
//! event source"). An SQS queue subscribed to an SNS topic without raw delivery gets it
//! wrapped in an SNS notification (`{"Type": "Notification", "Message": "<the record>"}`).

use serde::Deserialize;

/// The batch Lambda skipped.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KinesisBatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    /// The batch's last record (absent in some records: then `batch_size` bounds it).
    #[serde(default)]
    pub end_sequence_number: Option<String>,
    #[serde(default)]
    pub batch_size: Option<u64>,
    #[serde(default)]
    pub stream_arn: Option<String>,
}

impl KinesisBatchInfo {
    /// The stream's name, from `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    pub fn stream_name(&self) -> Option<&str> {
        self.stream_arn.as_deref().and_then(|arn| arn.rsplit_once(":stream/")).map(|(_, name)| name)
    }
}

/// One invocation record.
#[derive(Clone, Debug, Deserialize)]
pub struct FailureRecord {
    #[serde(rename = "KinesisBatchInfo")]
    pub batch: KinesisBatchInfo,
    /// Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, ...).
    #[serde(default, rename = "requestContext")]
    pub request_context: Option<RequestContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RequestContext {
    #[serde(default)]
    pub condition: Option<String>,
}

#[derive(Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

/// Reads a message body; the error says why it is not an on-failure record.
pub fn parse(body: &str) -> Result<FailureRecord, String> {
    if let Ok(sns) = serde_json::from_str::<SnsNotification>(body) {
        if sns.kind == "Notification" {
            return parse(&sns.message);
        }
    }
    serde_json::from_str::<FailureRecord>(body).map_err(|e| format!("not a Kinesis on-failure record ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENTED: &str = r#"{
        "requestContext": {"requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5", "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
        "KinesisBatchInfo": {"shardId": "shardId-000000000001", "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
            "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186", "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z", "batchSize": 500, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}
    }"#;

    #[test]
    fn reads_the_documented_record_and_its_sns_wrapping() {
        let record = parse(DOCUMENTED).unwrap();
        assert_eq!(record.batch.shard_id, "shardId-000000000001");
        assert_eq!(record.batch.batch_size, Some(500));
        assert_eq!(record.batch.stream_name(), Some("mystream"));
        assert_eq!(record.request_context.unwrap().condition.as_deref(), Some("RetryAttemptsExhausted"));
        let wrapped = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": DOCUMENTED}).to_string();
        assert_eq!(parse(&wrapped).unwrap().batch, parse(DOCUMENTED).unwrap().batch);
        let short = r#"{"KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "1", "batchSize": 1}}"#;
        assert_eq!(parse(short).unwrap().batch.end_sequence_number, None);
        for bad in ["", "not json", "{}", r#"{"KinesisBatchInfo": {"shardId": "s"}}"#, r#"{"Type": "Notification", "Message": "{}"}"#] {
            assert!(parse(bad).unwrap_err().contains("not a Kinesis on-failure record"), "{bad}");
        }
    }
}
