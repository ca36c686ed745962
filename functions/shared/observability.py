"""Logger, Tracer and Metrics, created once per container and shared by every module.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function by the Pulumi program);
Tracer disables itself outside Lambda, and local mode disables metrics output (POWERTOOLS_METRICS_DISABLED).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "nfe"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
