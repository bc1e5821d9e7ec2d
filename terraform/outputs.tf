output "api_invoke_url" {
  description = "Invoke URL of the API stage; POST <url>/v1/events, GET <url>/v1/aggregates, ..."
  value       = module.api.invoke_url
}

output "api_key_id" {
  description = "ID of the default API key (read its value with: aws apigateway get-api-key --include-value --api-key <id>)."
  value       = module.api.api_key_id
}

output "api_key_value" {
  description = "Value of the default API key (header x-api-key)."
  value       = module.api.api_key_value
  sensitive   = true
}

output "stream_name" {
  description = "Name of the Kinesis data stream."
  value       = module.stream.name
}

output "events_table_name" {
  description = "Name of the events table (EVENTS_TABLE)."
  value       = module.storage.events_table_name
}

output "aggregates_table_name" {
  description = "Name of the aggregates table (AGGREGATES_TABLE)."
  value       = module.storage.aggregates_table_name
}

output "archive_bucket_name" {
  description = "Archive bucket: events/, errors/ and the bad rows (BAD_ROWS_BUCKET)."
  value       = module.archive.bucket_name
}

output "bad_rows_prefix" {
  description = "Key prefix of the bad rows (BAD_ROWS_PREFIX)."
  value       = var.bad_rows_prefix
}

output "delivery_stream_names" {
  description = "Firehose delivery stream names (ARCHIVE_STREAMS, comma-joined)."
  value       = module.archive.delivery_stream_names
}

output "function_names" {
  description = "Lambda function names."
  value = {
    processor  = module.processor.function_name
    aggregator = module.aggregator.function_name
    query      = module.query.function_name
  }
}

output "processor_on_failure_queue" {
  description = "SQS queue receiving the metadata of batches that failed after all retries."
  value       = module.processor.on_failure_queue_name
}

output "kms_key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = module.kms.key_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.observability.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.observability.dashboard_name
}
