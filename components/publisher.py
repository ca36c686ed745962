"""OutboxPublisher: the publisher Lambda, its one-minute schedule, the outbox lag alarm, and the alarm on
the figure it reports beside the lag: the days left to inutilizar a rejected número."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam, metrics
from components.lambdas import (
    DatabaseAccess,
    LambdaRuntime,
    Network,
    create_function,
    database_environment,
    errors_alarm,
)
from nfe import topology


@dataclass(frozen=True)
class OutboxPublisherArgs:
    runtime: LambdaRuntime
    network: Network
    database: DatabaseAccess
    bus_name: pulumi.Input[str]
    bus_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]


class OutboxPublisher(pulumi.ComponentResource):
    def __init__(self, name: str, args: OutboxPublisherArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:OutboxPublisher", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = topology.function("outbox-publisher")
        assert spec.database_role
        self.resources = create_function(
            self,
            name,
            spec,
            args.runtime,
            args.network,
            environment=database_environment(spec, args.runtime, args.database),
            bus_name=args.bus_name,
            statements=[
                iam.statement(["events:PutEvents"], [args.bus_arn], sid="PublishToBus"),
                iam.statement(
                    ["rds-db:connect"], [args.database.connect_arn(spec.database_role)], sid="OwnDatabaseUser"
                ),
            ],
            depends_on=args.database.migrated,
        )
        function = self.resources.function
        # Scheduled rules live on the default bus; the saga's bus carries only domain events.
        schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=f"{spec.name}-schedule-{args.runtime.environment}",
            description="Publish the outbox every minute (safety net behind eager publishing)",
            schedule_expression=topology.PUBLISHER_SCHEDULE,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-schedule-permission",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=schedule.name,
            arn=function.arn,
            # The schedule starts invoking once the target exists: not before the schema is migrated.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, *args.database.migrated]),
        )
        errors_alarm(self, name, self.resources, args.alarm_topic_arn)
        aws.cloudwatch.MetricAlarm(
            f"{name}-lag-alarm",
            alarm_description="The oldest unpublished outbox row is older than 5 minutes, or the publisher stopped",
            namespace=metrics.METRICS_NAMESPACE,
            metric_name=metrics.OUTBOX_LAG_METRIC,
            dimensions=metrics.OUTBOX_LAG_DIMENSIONS,
            statistic="Maximum",
            period=60,
            evaluation_periods=5,
            threshold=metrics.OUTBOX_LAG_THRESHOLD_SECONDS,
            comparison_operator="GreaterThanThreshold",
            # The publisher reports the lag every minute, 0 when idle: silence means it is not running.
            treat_missing_data="breaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=child,
        )
        self._inutilizacao_alarm(name, args.alarm_topic_arn)
        self.function_name = function.name
        self.register_outputs({"functionName": function.name, "scheduleRule": schedule.name})

    def _inutilizacao_alarm(self, name: str, alarm_topic_arn: pulumi.Input[str]) -> aws.cloudwatch.MetricAlarm:
        """A rejected número must be inutilizado within three days.

        The publisher reports the fewest days left on every run while any número awaits inutilização,
        and nothing otherwise: silence is fine, and the alarm clears once the número is inutilizado (or
        its deadline is further than three days). Minimum over five minutes: the figure changes slowly.
        """
        days = metrics.INUTILIZACAO_ALARM_DAYS
        return aws.cloudwatch.MetricAlarm(
            f"{name}-inutilizacao-alarm",
            alarm_description=(
                f"A rejected NF-e número must be inutilizado at SEFAZ within {days} days "
                "(by the 10th of the month after its rejection)"
            ),
            namespace=metrics.METRICS_NAMESPACE,
            metric_name=metrics.INUTILIZACAO_DEADLINE_METRIC,
            dimensions=metrics.OUTBOX_LAG_DIMENSIONS,
            statistic="Minimum",
            period=300,
            evaluation_periods=1,
            threshold=days,
            comparison_operator="LessThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alarm_topic_arn],
            ok_actions=[alarm_topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
