variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "zip_path" {
  description = "Path of the processor's cargo-lambda zip relative to the Terraform root."
  type        = string
}

variable "memory_mb" {
  description = "Processor memory in MB."
  type        = number
}

variable "timeout_seconds" {
  description = "Processor timeout in seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the processor; null: unreserved."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough or Active."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the processor's log group."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key of the stream, queue, bucket, log group and environment variables."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream the processor consumes."
  type        = string
}

variable "events_table_name" {
  description = "Events table name (EVENTS_TABLE)."
  type        = string
}

variable "events_table_arn" {
  description = "Events table ARN."
  type        = string
}

variable "aggregates_table_name" {
  description = "Aggregates table name (AGGREGATES_TABLE)."
  type        = string
}

variable "aggregates_table_arn" {
  description = "Aggregates table ARN."
  type        = string
}

variable "delivery_stream_names" {
  description = "Firehose delivery stream names (ARCHIVE_STREAMS, comma-joined)."
  type        = list(string)
}

variable "delivery_stream_arns" {
  description = "Firehose delivery stream ARNs."
  type        = list(string)
}

variable "bad_rows_bucket_name" {
  description = "Bucket of the bad rows (BAD_ROWS_BUCKET)."
  type        = string
}

variable "bad_rows_bucket_arn" {
  description = "ARN of the bad-rows bucket."
  type        = string
}

variable "bad_rows_prefix" {
  description = "Key prefix of the bad rows (BAD_ROWS_PREFIX)."
  type        = string
}

variable "event_ttl_days" {
  description = "Days an event stays in the events table (EVENT_TTL_DAYS)."
  type        = number
}

variable "gsi_write_shards" {
  description = "Write shards of the per-type index key (GSI_WRITE_SHARDS); null: the index is off."
  type        = number
  default     = null
}

variable "query_event_types" {
  description = "Event types kept for per-user queries (QUERY_EVENT_TYPES); empty: every type."
  type        = list(string)
  default     = []
}

variable "rust_log" {
  description = "RUST_LOG filter."
  type        = string
}

variable "schemas_dir" {
  description = "Optional SCHEMAS_DIR override; empty: the embedded schemas."
  type        = string
  default     = ""
}

variable "enrichments_dir" {
  description = "Optional ENRICHMENTS_DIR override; empty: the embedded enrichments."
  type        = string
  default     = ""
}

variable "batch_size" {
  description = "Maximum records per invocation."
  type        = number
}

variable "maximum_batching_window_in_seconds" {
  description = "Maximum time (s) Lambda gathers records before invoking."
  type        = number
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10)."
  type        = number
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the on-failure queue."
  type        = number
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this are not processed; their metadata goes to the on-failure queue."
  type        = number
}
