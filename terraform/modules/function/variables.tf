variable "function_name" {
  description = "Name of the Lambda function (also names its role and log group)."
  type        = string
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
}

variable "zip_path" {
  description = "Path of the cargo-lambda zip (bootstrap inside) relative to the Terraform root."
  type        = string
}

variable "memory_mb" {
  description = "Memory in MB (CPU is proportional: 1,769 MB is one vCPU)."
  type        = number
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function on the unreserved pool."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
}

variable "policy_json" {
  description = "IAM policy (JSON) with the function's own permissions; logging permissions are added here."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the environment variables and the log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough or Active."
  type        = string
}

variable "dead_letter_target_arn" {
  description = "SQS queue for failed asynchronous invocations; null for functions that are not invoked asynchronously."
  type        = string
  default     = null
}
