data "aws_caller_identity" "current" {}

locals {
  # The container name the deploy workflow renders the new image into
  # (.github/workflows/deploy.yml CONTAINER_NAME must match).
  container_name = "app"

  capture_bucket = var.capture_bucket_name != "" ? var.capture_bucket_name : "${var.name}-captures-${data.aws_caller_identity.current.account_id}"

  tags = merge({ Service = var.name, ManagedBy = "terraform" }, var.tags)

  # Keys are the service's APP_* variables (src/config/load.ts ENV_KEYS).
  environment = merge({
    APP_HOST              = "0.0.0.0"
    APP_PORT              = tostring(var.container_port)
    APP_LOG_LEVEL         = var.log_level
    APP_MODEL_NAME        = var.model_name
    APP_PROVIDER          = "cpu"
    APP_DEMO_CAMERA       = "false"
    APP_EMF_INTERVAL_S    = tostring(var.emf_interval_s)
    APP_CAPTURE_INFERENCE = tostring(var.capture_inference)
    APP_CAPTURE_S3_BUCKET = aws_s3_bucket.captures.id
    APP_CAPTURE_S3_PREFIX = var.capture_prefix
    APP_CAPTURE_S3_REGION = var.region
    # Behind the ALB every peer is the ALB: rate-limit failed logins per real client.
    APP_TRUST_PROXY = tostring(var.enable_alb)
    }, var.enable_cluster ? {
    # 0 = streams.max_cameras: each task takes at most this many cameras.
    APP_CLUSTER_CAPACITY = tostring(var.cluster_capacity_per_task)
    } : {},
    # The camera list as JSON (which is YAML), unset optional fields left out
    # (the service rejects null); the SSM parameter, when set, replaces it.
    length(var.cameras) > 0 && var.cameras_ssm_parameter_arn == "" ? {
      APP_CAMERAS = jsonencode([for camera in var.cameras : { for key, value in camera : key => value if value != null }])
    } : {},
  var.extra_environment)

  # Injected by the ECS agent from Secrets Manager / SSM; never in the task definition's plain environment.
  secrets = concat(
    [{ name = "APP_API_KEYS", valueFrom = var.api_keys_secret_arn }],
    var.auth_token_secret_arn == "" ? [] : [{ name = "APP_AUTH_TOKEN_SECRET", valueFrom = var.auth_token_secret_arn }],
    var.rtsp_url_ssm_parameter_arn == "" ? [] : [{ name = "APP_RTSP_URL", valueFrom = var.rtsp_url_ssm_parameter_arn }],
    # Cluster mode: the rediss:// URL with the ElastiCache AUTH token (cache.tf).
    var.enable_cluster ? [{ name = "APP_REDIS_URL", valueFrom = aws_secretsmanager_secret.redis_url[0].arn }] : [],
    var.cameras_ssm_parameter_arn == "" ? [] : [{ name = "APP_CAMERAS", valueFrom = var.cameras_ssm_parameter_arn }],
  )
  secret_arns = [for secret in local.secrets : secret.valueFrom]
}
