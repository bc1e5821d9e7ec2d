output "api_invoke_url" {
  description = "Invoke URL of the API stage; POST <url>/v1/events, GET <url>/v1/aggregates, ..."
  value       = module.api.invoke_url
}

output "api_rest_api_id" {
  description = "ID of the REST API (aws apigateway test-invoke-method --rest-api-id ...)."
  value       = module.api.rest_api_id
}

output "api_ingest_resource_ids" {
  description = "Resource IDs of POST /v1/events and /v1/event (aws apigateway test-invoke-method --resource-id ...)."
  value       = module.api.ingest_resource_ids
}

output "api_key_id" {
  description = "ID of the ingest API key (read its value with: aws apigateway get-api-key --include-value --api-key <id>)."
  value       = module.api.api_key_id
}

output "api_key_value" {
  description = "Value of the ingest API key (header x-api-key of POST /v1/events and /v1/event; the GET routes take SigV4 instead)."
  value       = module.api.api_key_value
  sensitive   = true
}

output "query_read_policy_arn" {
  description = "IAM policy to attach to the operators' roles or users that call the GET query routes (SigV4: awscurl --service execute-api, or an AWS SDK)."
  value       = module.api.query_read_policy_arn
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
