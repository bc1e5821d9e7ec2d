output "function_name" {
  description = "Name of the query function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the query function."
  value       = module.function.function_arn
}

output "invoke_arn" {
  description = "Invoke ARN of the query function (API Gateway AWS_PROXY integration)."
  value       = module.function.invoke_arn
}

output "role_arn" {
  description = "ARN of the query function's execution role."
  value       = module.function.role_arn
}
