resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
      essential = true

      portMappings = [
        { containerPort = var.container_port, protocol = "tcp" },
      ]

      environment = [for k, v in local.environment : { name = k, value = v }]
      secrets     = local.secrets

      # Liveness, the same probe as the image's HEALTHCHECK (ECS ignores the
      # Dockerfile one): a failing one restarts the task, so it only asks
      # whether the process answers. Readiness (/health/ready) is the ALB's.
      healthCheck = {
        command     = ["CMD", "node", "-e", "fetch('http://127.0.0.1:${var.container_port}/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }

      # SIGTERM first, SIGKILL after this many seconds: time to drain clients
      # and stop ffmpeg children cleanly.
      stopTimeout = 30

      linuxParameters = {
        initProcessEnabled = true
      }

      ulimits = [
        { name = "nofile", softLimit = 65536, hardLimit = 65536 },
      ]

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.app.name
          "awslogs-region"        = var.region
          "awslogs-stream-prefix" = "app"
          # Never block the event loop on a slow log pipe.
          "mode"            = "non-blocking"
          "max-buffer-size" = "4m"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "app" {
  name             = var.name
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.app.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # A deployment whose tasks keep failing is stopped and rolled back.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = var.enable_alb ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.app[0].arn
      container_name   = local.container_name
      container_port   = var.container_port
    }
  }

  # Models load and cameras connect before /health/ready turns green.
  health_check_grace_period_seconds = var.enable_alb ? 60 : null

  lifecycle {
    # The deploy workflow registers new revisions (new image) and autoscaling
    # moves the count; terraform must not undo either on the next apply.
    ignore_changes = [task_definition, desired_count]
  }

  depends_on = [aws_lb_listener.http, aws_iam_role_policy.task_capture]
}
