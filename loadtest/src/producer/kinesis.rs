//! `--kinesis STREAM`: the same batches sent straight to a Kinesis stream with `PutRecords`
//! (one record per event, the `user_id` as partition key, as the ingest API does). Credentials,
//! region and `AWS_ENDPOINT_URL` come from the environment as for every AWS SDK client.

use std::time::Duration;

use anyhow::bail;
use aws_config::BehaviorVersion;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::Attempt;
use crate::batches::Batch;

pub struct KinesisProducer {
    client: Client,
    stream: String,
    timeout: Duration,
}

/// The partition key of one event: its `user_id` (string or number), else a fixed key.
pub fn partition_key(event: &[u8]) -> String {
    let Some(at) = memchr::memmem::find(event, b"\"user_id\":") else { return "loadtest".into() };
    let rest = &event[at + 10..];
    let text = if let Some(rest) = rest.strip_prefix(b"\"") {
        memchr::memchr(b'"', rest).map(|end| &rest[..end])
    } else {
        let end = rest.iter().position(|c| !c.is_ascii_digit()).unwrap_or(rest.len());
        Some(&rest[..end])
    };
    match text.map(String::from_utf8_lossy) {
        Some(key) if !key.is_empty() && key.len() <= 256 => key.into_owned(),
        _ => "loadtest".into(),
    }
}

impl KinesisProducer {
    /// A client for `stream`, checked with `DescribeStreamSummary`.
    pub async fn new(stream: &str, timeout: Duration) -> anyhow::Result<Self> {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let region = config.region().map(|r| r.to_string());
        let client = Client::new(&config);
        if let Err(e) = client.describe_stream_summary().stream_name(stream).send().await {
            let region = region.unwrap_or_else(|| "(none: set AWS_REGION)".into());
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                bail!("the Kinesis stream {stream:?} does not exist in region {region}: create it, or check --kinesis and AWS_REGION");
            }
            bail!("cannot reach the Kinesis stream {stream:?} in region {region}: {}. Check AWS credentials, AWS_REGION and AWS_ENDPOINT_URL", DisplayErrorContext(&e));
        }
        Ok(Self { client, stream: stream.to_owned(), timeout })
    }

    pub async fn put_records(&self, batch: &Batch, pending: &[u32]) -> Attempt {
        let mut entries = Vec::with_capacity(pending.len());
        for &i in pending {
            let data = batch.event(i as usize);
            match PutRecordsRequestEntry::builder().data(Blob::new(data.to_vec())).partition_key(partition_key(data)).build() {
                Ok(entry) => entries.push(entry),
                Err(e) => return Attempt::Refused(format!("cannot make a PutRecords entry: {e}")),
            }
        }
        let call = self.client.put_records().stream_name(&self.stream).set_records(Some(entries)).send();
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Attempt::Retry(format!("PutRecords: no answer within {}", humantime::format_duration(self.timeout))),
            Ok(Ok(out)) => Attempt::Records(out.records().iter().map(|r| r.error_code().is_none() && r.sequence_number().is_some()).collect()),
            Ok(Err(e)) => match e.as_service_error() {
                Some(s) if s.is_provisioned_throughput_exceeded_exception() || s.is_kms_throttling_exception() => Attempt::Throttled { retry_after: None },
                Some(s) if s.is_resource_not_found_exception() => Attempt::Fatal(format!("the Kinesis stream {:?} is gone: {}", self.stream, DisplayErrorContext(&e))),
                Some(s) if s.is_access_denied_exception() || s.is_kms_access_denied_exception() => {
                    Attempt::Fatal(format!("PutRecords to {:?} is not allowed: {}", self.stream, DisplayErrorContext(&e)))
                }
                Some(s) if s.is_invalid_argument_exception() => Attempt::Refused(format!("PutRecords refused the batch: {}", DisplayErrorContext(&e))),
                _ => Attempt::Retry(format!("PutRecords: {}", DisplayErrorContext(&e))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::partition_key;

    #[test]
    fn the_partition_key_is_the_user_id() {
        assert_eq!(partition_key(br#"{"event_type":"click","user_id":"lt-ab-7","x":1}"#), "lt-ab-7");
        assert_eq!(partition_key(br#"{"event_type":"click","user_id":123,"x":1}"#), "123");
        assert_eq!(partition_key(br#"{"event_type":"click"}"#), "loadtest");
    }
}
