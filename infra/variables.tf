# ------------------------------------------------------------- general ----
variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix for resources; also the ECS task family and service name."
  type        = string
  default     = "stream-ml-service"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,26}[a-z0-9]$", var.name))
    error_message = "name must be 3-28 lowercase letters, digits or dashes: it becomes part of bucket and load balancer names (ALB names stop at 32)."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------- network ----
variable "vpc_id" {
  description = "VPC the tasks (and the optional load balancer) run in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the Fargate tasks. Private subnets need a NAT gateway or VPC endpoints (ECR, S3, CloudWatch Logs)."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (only for public subnets without NAT)."
  type        = bool
  default     = false
}

variable "allowed_ingress_cidrs" {
  description = "CIDRs allowed to reach the container port directly when the load balancer is disabled."
  type        = list(string)
  default     = []
}

# ----------------------------------------------------------------- ECR ----
variable "ecr_keep_images" {
  description = "Tagged images kept in ECR; older ones expire."
  type        = number
  default     = 30
}

variable "force_delete" {
  description = "Let terraform destroy the ECR repository and capture bucket even when not empty."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------- ECS ----
variable "image_tag" {
  description = "Image tag terraform puts in the task definition; the deploy workflow replaces it with the commit SHA."
  type        = string
  default     = "latest"
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU). Valid pairs with task_memory: see the Fargate task size table."
  type        = number
  default     = 2048
}

variable "task_memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 4096
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton). The image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "container_port" {
  description = "Port the service listens on (APP_PORT)."
  type        = number
  default     = 8000
}

variable "desired_count" {
  description = "Tasks started at creation (1: each task reads every camera). With enable_autoscaling, autoscaling owns the count afterwards; without it, change the count in the console or CLI (the service ignores later desired_count changes here)."
  type        = number
  default     = 1
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the service log group."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "APP_LOG_LEVEL."
  type        = string
  default     = "info"
}

variable "model_name" {
  description = "APP_MODEL_NAME: manifest name or alias of the model to run."
  type        = string
  default     = "mobilenet_v2_int8"
}

variable "emf_interval_s" {
  description = "APP_EMF_INTERVAL_S: seconds between CloudWatch EMF metric lines; 0 disables."
  type        = number
  default     = 60
}

variable "api_keys_secret_arn" {
  description = "ARN of the Secrets Manager secret or SSM SecureString parameter holding the API keys (APP_API_KEYS: role:key entries such as \"admin:<key>,read:<key>\"). Required: the service listens on all interfaces only with keys."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", var.api_keys_secret_arn))
    error_message = "api_keys_secret_arn must be a Secrets Manager secret or SSM parameter ARN."
  }
}

variable "auth_token_secret_arn" {
  description = "ARN of a secret (Secrets Manager or SSM SecureString) of at least 32 characters for signing stream tokens (APP_AUTH_TOKEN_SECRET); empty = random per task, so a token works only on the task that issued it. Set it when max_capacity > 1."
  type        = string
  default     = ""
}

variable "rtsp_url_ssm_parameter_arn" {
  description = "One camera: ARN of an SSM SecureString parameter holding its URL (APP_RTSP_URL; it becomes camera `default`). Empty for none. Camera URLs often carry credentials, so they are not plain environment."
  type        = string
  default     = ""
}

variable "cameras" {
  description = "Several cameras: rendered as JSON into APP_CAMERAS (the config file's `cameras:` list). URLs here are plain task-definition environment: use cameras_ssm_parameter_arn for URLs with credentials."
  type = list(object({
    id        = string
    url       = string
    fps       = optional(number)
    transport = optional(string)
  }))
  default = []
}

variable "cameras_ssm_parameter_arn" {
  description = "Several cameras with credentials: ARN of an SSM SecureString parameter holding the camera list as YAML or JSON (APP_CAMERAS), e.g. `- {id: door, url: rtsp://user:pass@10.0.0.12/stream1}`. Replaces `cameras` when set."
  type        = string
  default     = ""
}

variable "extra_environment" {
  description = "More APP_* variables for the container."
  type        = map(string)
  default     = {}
}

# --------------------------------------------------------- autoscaling ----
variable "enable_autoscaling" {
  description = "CPU target tracking between min_capacity and max_capacity. Off by default: every task ingests every configured camera, so more tasks duplicate camera work; turn it on for POST /predict load only, until cluster mode (cameras shared out between tasks) exists."
  type        = bool
  default     = false
}

variable "min_capacity" {
  description = "Fewest tasks."
  type        = number
  default     = 1
}

variable "max_capacity" {
  description = "Most tasks. Without enable_cluster every task ingests every configured camera (raise this for REST /predict load only); with it the cameras are shared out among the tasks, so more tasks carry more cameras."
  type        = number
  default     = 4
}

variable "cpu_target_percent" {
  description = "Average service CPU utilisation the target-tracking policy aims for."
  type        = number
  default     = 60
}

# ------------------------------------------------------------- capture ----
variable "capture_bucket_name" {
  description = "S3 bucket for inference captures; empty = <name>-captures-<account id>."
  type        = string
  default     = ""
}

variable "capture_prefix" {
  description = "Key prefix under which the service writes captures; the task role may write only there."
  type        = string
  default     = "inference"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.capture_prefix))
    error_message = "capture_prefix must be a non-empty key prefix without leading or trailing slash."
  }
}

variable "capture_inference" {
  description = "APP_CAPTURE_INFERENCE: save inferred frames (and upload them to the bucket)."
  type        = bool
  default     = false
}

variable "capture_retention_days" {
  description = "Captured objects expire after this many days."
  type        = number
  default     = 30
}

# ----------------------------------------------------------------- ALB ----
variable "enable_alb" {
  description = "Put an Application Load Balancer in front of the service."
  type        = bool
  default     = false
}

variable "alb_subnet_ids" {
  description = "Subnets for the load balancer (public ones for an internet-facing ALB); at least two AZs."
  type        = list(string)
  default     = []
}

variable "alb_internal" {
  description = "Make the load balancer internal."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "CIDRs allowed to reach the load balancer (required, no default: choose who may reach the service, e.g. your office or VPN range; [] when enable_alb = false). [\"0.0.0.0/0\"] opens it to the internet, still behind the API keys."
  type        = list(string)

  validation {
    condition     = alltrue([for cidr in var.alb_ingress_cidrs : can(cidrnetmask(cidr))])
    error_message = "alb_ingress_cidrs must be IPv4 CIDRs like 203.0.113.0/24."
  }
}

variable "alb_certificate_arn" {
  description = "ACM certificate for an HTTPS listener; empty = HTTP only."
  type        = string
  default     = ""
}

variable "alb_idle_timeout" {
  description = "Seconds an idle connection stays open; above the SSE heartbeat (15 s) so streams survive."
  type        = number
  default     = 120
}

# ------------------------------------------------------- cluster mode ----
variable "enable_cluster" {
  description = "Cluster mode: an ElastiCache (Valkey) replication group with TLS and AUTH holds the shared camera registry, leases and result stream; its URL reaches the tasks as the APP_REDIS_URL secret. Makes autoscaling share cameras out instead of duplicating them."
  type        = bool
  default     = false
}

variable "cluster_capacity_per_task" {
  description = "APP_CLUSTER_CAPACITY: cameras one task may own (0 = streams.max_cameras). Size it to what one task decodes and infers at the wanted fps."
  type        = number
  default     = 0
}

variable "cache_engine" {
  description = "valkey or redis."
  type        = string
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.cache_engine)
    error_message = "cache_engine must be valkey or redis."
  }
}

variable "cache_engine_version" {
  description = "Engine version (Valkey 7.2+ / Redis 7+: the service uses Streams and Lua)."
  type        = string
  default     = "7.2"
}

variable "cache_node_type" {
  description = "ElastiCache node type. The bus carries about 1 kB per inferred frame; a small node holds the default 10000-event window many times over."
  type        = string
  default     = "cache.t4g.small"
}

variable "cache_replicas" {
  description = "Read replicas (0 = single node, no automatic failover)."
  type        = number
  default     = 1
}

variable "cache_parameter_group_name" {
  description = "Parameter group; the default keeps maxmemory-policy volatile-lru, which never evicts the service's keys without TTL."
  type        = string
  default     = "default.valkey7"
}

variable "cache_snapshot_retention_days" {
  description = "Daily snapshots kept (0 = none). The registry also survives a total cache loss: the tasks write back their last copy."
  type        = number
  default     = 1
}

variable "cache_subnet_ids" {
  description = "Subnets for the cache nodes; empty = subnet_ids."
  type        = list(string)
  default     = []
}
