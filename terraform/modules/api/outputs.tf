output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_name" {
  description = "Name of the REST API (CloudWatch ApiName dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the deployed stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Invoke URL of the stage; routes are under /v1."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_key_id" {
  description = "ID of the default API key."
  value       = aws_api_gateway_api_key.this.id
}

output "api_key_value" {
  description = "Value of the default API key (header x-api-key)."
  value       = aws_api_gateway_api_key.this.value
  sensitive   = true
}

output "access_log_group_name" {
  description = "Access log group of the stage."
  value       = aws_cloudwatch_log_group.access.name
}
