# Off unless enable_autoscaling: each task reads every camera (no sharding
# yet), so scaling out multiplies camera work. Cluster mode will share
# cameras out between tasks; then this can follow camera load.
resource "aws_appautoscaling_target" "service" {
  count              = var.enable_autoscaling ? 1 : 0
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.app.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

# Inference is CPU-bound: average CPU is the load signal. With enable_cluster a
# new task takes its share of the cameras (a few per heartbeat) and a task
# scaled in hands its cameras over on SIGTERM (stop, then release the lease),
# so scaling moves work instead of duplicating it. Without cluster mode every
# task runs every camera: scale only for /predict load.
resource "aws_appautoscaling_policy" "cpu" {
  count              = var.enable_autoscaling ? 1 : 0
  name               = "${var.name}-cpu-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[0].service_namespace
  resource_id        = aws_appautoscaling_target.service[0].resource_id
  scalable_dimension = aws_appautoscaling_target.service[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
