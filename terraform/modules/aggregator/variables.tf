variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "zip_path" {
  description = "Path of the aggregator's cargo-lambda zip relative to the Terraform root."
  type        = string
}

variable "memory_mb" {
  description = "Aggregator memory in MB."
  type        = number
}

variable "timeout_seconds" {
  description = "Aggregator timeout in seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the aggregator; null: unreserved."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough or Active."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the aggregator's log group."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key of the tables, queue, log group and environment variables."
  type        = string
}

variable "events_table_name" {
  description = "Events table name (EVENTS_TABLE)."
  type        = string
}

variable "events_table_arn" {
  description = "Events table ARN (read only)."
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

variable "rust_log" {
  description = "RUST_LOG filter."
  type        = string
}

variable "schedule_expression" {
  description = "EventBridge schedule of the aggregator, e.g. rate(1 minute)."
  type        = string
}
