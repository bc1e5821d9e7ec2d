variable "name_prefix" {
  description = "Prefix of every resource name, e.g. event-pipeline-dev."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period (7-30 days) before a scheduled key deletion takes effect."
  type        = number
  default     = 30
}
