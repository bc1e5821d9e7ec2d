variable "name_prefix" {
  description = "Prefix of the table names (<prefix>-events, <prefix>-aggregates)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key used for server-side encryption of both tables."
  type        = string
}

variable "deletion_protection" {
  description = "Enable DynamoDB deletion protection on both tables."
  type        = bool
}

variable "events_gsi_name" {
  description = "Name of the per-type time index on the events table."
  type        = string
  default     = "gsi1"
}

variable "events_gsi_projection_type" {
  description = "Projection of the per-type index: KEYS_ONLY (cheapest; fetch items from the base table) or ALL."
  type        = string
  default     = "KEYS_ONLY"

  validation {
    condition     = contains(["KEYS_ONLY", "ALL"], var.events_gsi_projection_type)
    error_message = "events_gsi_projection_type must be KEYS_ONLY or ALL."
  }
}

variable "events_max_write_request_units" {
  description = "Optional on-demand ceiling of write request units per second on the events table (null: no ceiling)."
  type        = number
  default     = null
}

variable "aggregates_max_write_request_units" {
  description = "Optional on-demand ceiling of write request units per second on the aggregates table (null: no ceiling)."
  type        = number
  default     = null
}
