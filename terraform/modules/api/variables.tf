variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "stream_name" {
  description = "Kinesis stream receiving the events."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream receiving the events."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the stream (producers need a data key) and of the access log group."
  type        = string
}

variable "query_function_name" {
  description = "Name of the query Lambda function."
  type        = string
}

variable "query_invoke_arn" {
  description = "Invoke ARN of the query Lambda function."
  type        = string
}

variable "type_events_route" {
  description = "Serve GET /v1/events (one type's events) from the query Lambda: where the per-type index is on."
  type        = bool
  default     = false
}

variable "stage_name" {
  description = "Name of the API stage (part of the invoke URL)."
  type        = string
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second allowed for the API key (usage plan) and the stage."
  type        = number
}

variable "throttle_burst_limit" {
  description = "Burst of requests allowed for the API key (usage plan) and the stage."
  type        = number
}

variable "quota_limit_per_day" {
  description = "Maximum requests per day for the API key; null: no quota."
  type        = number
  default     = null
}

variable "minimum_compression_size" {
  description = "Responses at least this large (bytes) are gzip-compressed when the client accepts it; null disables response compression (gzip request bodies are accepted either way)."
  type        = number
  default     = null
}

variable "xray_tracing_enabled" {
  description = "Enable X-Ray tracing on the stage."
  type        = bool
}

variable "execution_logging_level" {
  description = "Execution logging level of the stage: OFF, ERROR or INFO (needs the account-level CloudWatch role)."
  type        = string
}

variable "manage_account_logging_role" {
  description = "Create the regional API Gateway account setting with a CloudWatch Logs role (one per account and region: set false where another stack owns it)."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
}

variable "waf_web_acl_arn" {
  description = "Optional WAFv2 web ACL to associate with the stage; empty: none."
  type        = string
  default     = ""
}
