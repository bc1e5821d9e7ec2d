variable "name" {
  description = "Name of the Kinesis data stream."
  type        = string
}

variable "stream_mode" {
  description = "ON_DEMAND or PROVISIONED."
  type        = string

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Number of shards when stream_mode is PROVISIONED (ignored for ON_DEMAND)."
  type        = number
}

variable "retention_hours" {
  description = "Record retention in hours (24-8760)."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key used for server-side encryption of the stream."
  type        = string
}

variable "shard_level_metrics" {
  description = "Enhanced shard-level CloudWatch metrics to enable (billed per shard and metric), e.g. [\"IncomingBytes\", \"IncomingRecords\", \"WriteProvisionedThroughputExceeded\"]."
  type        = list(string)
  default     = []
}
