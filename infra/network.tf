resource "aws_security_group" "service" {
  name        = "${var.name}-service"
  description = "Fargate tasks of ${var.name}"
  vpc_id      = var.vpc_id
}

# Outbound: cameras (RTSP), S3, ECR, CloudWatch Logs.
resource "aws_vpc_security_group_egress_rule" "service_all" {
  security_group_id = aws_security_group.service.id
  description       = "All outbound"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "service_from_alb" {
  count                        = var.enable_alb ? 1 : 0
  security_group_id            = aws_security_group.service.id
  description                  = "HTTP from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb[0].id
}

resource "aws_vpc_security_group_ingress_rule" "service_direct" {
  for_each          = var.enable_alb ? toset([]) : toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.service.id
  description       = "HTTP straight to the tasks"
  ip_protocol       = "tcp"
  from_port         = var.container_port
  to_port           = var.container_port
  cidr_ipv4         = each.value
}
