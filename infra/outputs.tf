output "ecr_repository_url" {
  description = "Push images here (the deploy workflow's ECR_REPOSITORY is the part after the slash)."
  value       = aws_ecr_repository.app.repository_url
}

output "ecs_cluster_name" {
  description = "ECS_CLUSTER for the deploy workflow."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS_SERVICE for the deploy workflow."
  value       = aws_ecs_service.app.name
}

output "task_definition_family" {
  description = "Task definition family; the deploy workflow registers new revisions of it."
  value       = aws_ecs_task_definition.app.family
}

output "container_name" {
  description = "Container name inside the task definition (deploy workflow CONTAINER_NAME)."
  value       = local.container_name
}

output "capture_bucket" {
  description = "Bucket for inference captures (APP_CAPTURE_S3_BUCKET)."
  value       = aws_s3_bucket.captures.id
}

output "log_group_name" {
  description = "CloudWatch log group with the service logs and EMF metric lines."
  value       = aws_cloudwatch_log_group.app.name
}

output "task_role_arn" {
  description = "Role the service runs as (s3:PutObject under the capture prefix only)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "Role the ECS agent uses to pull the image and write logs."
  value       = aws_iam_role.execution.arn
}

output "service_security_group_id" {
  description = "Security group of the tasks (allow it on cameras' networks for RTSP)."
  value       = aws_security_group.service.id
}

output "alb_dns_name" {
  description = "Load balancer DNS name, when enable_alb is true."
  value       = var.enable_alb ? aws_lb.app[0].dns_name : null
}

output "redis_url_secret_arn" {
  description = "Secrets Manager ARN holding APP_REDIS_URL (cluster mode); null when enable_cluster is false."
  value       = var.enable_cluster ? aws_secretsmanager_secret.redis_url[0].arn : null
}

output "cache_primary_endpoint" {
  description = "ElastiCache primary endpoint (cluster mode); null when enable_cluster is false."
  value       = var.enable_cluster ? aws_elasticache_replication_group.cluster[0].primary_endpoint_address : null
}
