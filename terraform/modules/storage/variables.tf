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

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of both tables (billed per GB of table data)."
  type        = bool
}

variable "events_gsi_enabled" {
  description = "Create the write-sharded per-type index on the events table."
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

variable "events_billing_mode" {
  description = "PAY_PER_REQUEST (on-demand) or PROVISIONED (auto scaled between events_capacity's min and max)."
  type        = string
}

variable "aggregates_billing_mode" {
  description = "PAY_PER_REQUEST (on-demand) or PROVISIONED (auto scaled between aggregates_capacity's min and max)."
  type        = string
}

variable "events_capacity" {
  description = "Provisioned capacity range of the events table (read and write units/s), used when PROVISIONED."
  type        = object({ min_read = number, max_read = number, min_write = number, max_write = number })
}

variable "aggregates_capacity" {
  description = "Provisioned capacity range of the aggregates table (read and write units/s), used when PROVISIONED."
  type        = object({ min_read = number, max_read = number, min_write = number, max_write = number })
}

variable "autoscaling_target_percent" {
  description = "Target utilisation of provisioned capacity (consumed / provisioned), in percent."
  type        = number
}

variable "events_table_class" {
  description = "Table class of the events table: STANDARD or STANDARD_INFREQUENT_ACCESS."
  type        = string
}

variable "aggregates_table_class" {
  description = "Table class of the aggregates table: STANDARD or STANDARD_INFREQUENT_ACCESS."
  type        = string
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
