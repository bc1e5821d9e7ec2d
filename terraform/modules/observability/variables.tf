variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the alarm topic."
  type        = string
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the processor's embedded-metric-format metrics."
  type        = string
  default     = "EventPipeline"
}

variable "stream_name" {
  description = "Kinesis stream name."
  type        = string
}

variable "function_names" {
  description = "Lambda function names by role (processor, aggregator, query)."
  type        = map(string)
}

variable "processor_function_name" {
  description = "Name of the Kinesis consumer (for its IteratorAge metric)."
  type        = string
}

variable "queue_names" {
  description = "SQS queues that must stay empty (on-failure queue, dead-letter queues), by role."
  type        = map(string)
}

variable "table_names" {
  description = "DynamoDB table names by role (events, aggregates)."
  type        = map(string)
}

variable "events_table_name" {
  description = "Name of the events table (its per-type index is watched for throttling)."
  type        = string
}

variable "events_gsi_name" {
  description = "Name of the per-type index of the events table; null where the index is off."
  type        = string
  default     = null
}

variable "delivery_stream_names" {
  description = "Firehose delivery stream names."
  type        = list(string)
}

variable "archive_bucket_name" {
  description = "Archive bucket (its errors/ prefix is watched)."
  type        = string
}

variable "archive_errors_metric_filter_id" {
  description = "FilterId of the archive bucket's request metrics of errors/."
  type        = string
}

variable "api_name" {
  description = "REST API name (CloudWatch ApiName dimension)."
  type        = string
}

variable "api_stage_name" {
  description = "REST API stage name."
  type        = string
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when the oldest unread record of the stream is older than this (milliseconds)."
  type        = number
}

variable "firehose_freshness_threshold_seconds" {
  description = "Alarm when the oldest undelivered Firehose record is older than this (seconds)."
  type        = number
}
