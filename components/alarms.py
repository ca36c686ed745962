"""The one shape every saga alarm has: fire on the first occurrence in a period, quiet otherwise.

A DLQ message, a function error and a rejected message each mean something the saga did not
handle, so each alarm trips above zero in one period, treats silence as fine, and tells the
stack's topic both when it fires and when it clears.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def alarm_on_any(
    parent: pulumi.Resource,
    resource_name: str,
    *,
    description: pulumi.Input[str],
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    statistic: str,
    period: int,
    alarm_topic_arn: pulumi.Input[str],
) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dict(dimensions),
        statistic=statistic,
        period=period,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[alarm_topic_arn],
        ok_actions=[alarm_topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
    )
