variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "zip_path" {
  description = "Path of the query function's cargo-lambda zip relative to the Terraform root."
  type        = string
}

variable "memory_mb" {
  description = "Query function memory in MB."
  type        = number
}

variable "timeout_seconds" {
  description = "Query function timeout in seconds (API Gateway waits at most 29 s)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the query function; null: unreserved."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough or Active."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the query function's log group."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key of the tables, log group and environment variables."
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

variable "events_gsi_name" {
  description = "The per-type index of the events table; null: the index is off."
  type        = string
  default     = null
}

variable "gsi_write_shards" {
  description = "Write shards of the per-type index key (GSI_WRITE_SHARDS); null: the index is off."
  type        = number
  default     = null
}

variable "rust_log" {
  description = "RUST_LOG filter."
  type        = string
}
