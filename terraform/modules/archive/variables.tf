variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "bucket_name" {
  description = "Name of the archive bucket; empty: <name_prefix>-archive-<account id>-<region>."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "KMS key for the bucket's default encryption, Firehose server-side encryption and the Firehose log group."
  type        = string
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a non-empty bucket (dev only)."
  type        = bool
  default     = false
}

variable "access_log_bucket" {
  description = "Existing bucket receiving S3 server access logs of the archive bucket; empty: no access logging."
  type        = string
  default     = ""
}

variable "events_prefix" {
  description = "Key prefix of archived events (must match the Firehose prefix below)."
  type        = string
  default     = "events/"
}

variable "bad_rows_prefix" {
  description = "Key prefix of bad rows written by the processor (BAD_ROWS_PREFIX)."
  type        = string
}

variable "transition_ia_days" {
  description = "Days after which archived objects move to STANDARD_IA (>= 30)."
  type        = number
}

variable "transition_glacier_days" {
  description = "Days after which archived objects move to GLACIER (at least transition_ia_days + 30)."
  type        = number
}

variable "expiration_days" {
  description = "Days after which archived objects are deleted; 0 keeps them forever."
  type        = number
  default     = 0
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
  default     = 30
}

variable "stream_count" {
  description = "Number of Firehose delivery streams (each has its own Direct PUT quota)."
  type        = number
}

variable "buffering_size_mb" {
  description = "Firehose buffer size in MiB (64-128 with dynamic partitioning)."
  type        = number
}

variable "buffering_interval_seconds" {
  description = "Firehose buffer interval in seconds (60-900)."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the Firehose error log group."
  type        = number
}
