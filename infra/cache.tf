# Cluster mode (README "Cluster mode"): an ElastiCache Valkey replication group
# shared by the tasks. Cameras are shared out among tasks, results flow through
# a Redis Stream, so ECS autoscaling adds decoding capacity instead of
# duplicating work. Off unless enable_cluster = true.

resource "aws_elasticache_subnet_group" "cluster" {
  count      = var.enable_cluster ? 1 : 0
  name       = "${var.name}-cache"
  subnet_ids = length(var.cache_subnet_ids) > 0 ? var.cache_subnet_ids : var.subnet_ids
}

resource "aws_security_group" "cache" {
  count       = var.enable_cluster ? 1 : 0
  name        = "${var.name}-cache"
  description = "ElastiCache of ${var.name}: reachable only from its tasks"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_service" {
  count                        = var.enable_cluster ? 1 : 0
  security_group_id            = aws_security_group.cache[0].id
  description                  = "Redis protocol (TLS) from the service tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.service.id
}

# AUTH token: 64 characters from the set ElastiCache accepts (no @, ", /).
resource "random_password" "cache_auth" {
  count            = var.enable_cluster ? 1 : 0
  length           = 64
  special          = true
  override_special = "!&#$^<>-"
}

resource "aws_elasticache_replication_group" "cluster" {
  count                = var.enable_cluster ? 1 : 0
  replication_group_id = "${var.name}-cache"
  description          = "Camera registry, leases and result stream of ${var.name}"
  engine               = var.cache_engine
  engine_version       = var.cache_engine_version
  node_type            = var.cache_node_type
  port                 = 6379

  # Primary + replica in two zones with automatic failover (cluster mode disabled: the
  # service's Lua scripts touch several keys, which a sharded cluster would not allow).
  num_cache_clusters         = var.cache_replicas + 1
  automatic_failover_enabled = var.cache_replicas > 0
  multi_az_enabled           = var.cache_replicas > 0

  subnet_group_name  = aws_elasticache_subnet_group.cluster[0].name
  security_group_ids = [aws_security_group.cache[0].id]

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.cache_auth[0].result
  auth_token_update_strategy = "ROTATE"

  # Event ids and the registry are small; never evict them (LRU would drop the registry under pressure).
  parameter_group_name = var.cache_parameter_group_name

  snapshot_retention_limit = var.cache_snapshot_retention_days
  apply_immediately        = false
}

# The URL carries the AUTH token: it reaches the task as a secret (main.tf local.secrets; the
# execution role may read exactly the secrets the task definition names), never as plain environment.
resource "aws_secretsmanager_secret" "redis_url" {
  count                   = var.enable_cluster ? 1 : 0
  name                    = "${var.name}/redis-url"
  description             = "APP_REDIS_URL of ${var.name} (rediss:// with the ElastiCache AUTH token)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  count         = var.enable_cluster ? 1 : 0
  secret_id     = aws_secretsmanager_secret.redis_url[0].id
  secret_string = "rediss://:${urlencode(random_password.cache_auth[0].result)}@${aws_elasticache_replication_group.cluster[0].primary_endpoint_address}:6379"
}
