"""Logger, Tracer and Metrics, created once per container and shared by every module.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function by the Pulumi program);
local mode disables metrics output (POWERTOOLS_METRICS_DISABLED).

Powertools' Tracer loads the X-Ray SDK, whose recorder builds two botocore clients for sampling at
import: about 250 ms of every cold start, measured (see docs/performance.md). Where X-Ray cannot
receive anything (local mode, tests, a function deployed without active tracing) the Tracer would be
disabled anyway, so a stand-in with the same decorators is used instead and the SDK is never loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic_settings import BaseSettings, SettingsConfigDict

METRICS_NAMESPACE = "nfe"

F = TypeVar("F", bound=Callable[..., Any])


class TracingSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # Lambda sets the daemon address only for functions with active tracing.
    aws_xray_daemon_address: str | None = None
    lambda_task_root: str | None = None
    powertools_trace_disabled: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.aws_xray_daemon_address and self.lambda_task_root) and not self.powertools_trace_disabled


class NoopTracer:
    """The Tracer decorators the functions use, doing nothing, without importing the X-Ray SDK."""

    def capture_lambda_handler(self, lambda_handler: F | None = None, **_options: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: F | None = None, **_options: Any) -> Any:
        return method if method is not None else (lambda fn: fn)


# What the Tracer patches: the AWS SDK, the only client library the functions call. Powertools'
# default patches everything X-Ray supports that is installed, which imports `requests` and more
# at init for nothing: 75-110 ms of every traced cold start (bench/results). X-Ray's psycopg patch
# needs psycopg_pool, absent here, so SQL is not traced either way.
PATCHED_MODULES = ("botocore",)


def build_tracer(settings: TracingSettings | None = None) -> Tracer:
    settings = settings or TracingSettings()
    if settings.enabled:
        return Tracer(patch_modules=PATCHED_MODULES)
    return cast(Tracer, NoopTracer())


logger = Logger()
tracer = build_tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
