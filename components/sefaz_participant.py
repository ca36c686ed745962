"""SefazParticipant: the saga's third participant, the function that has SEFAZ authorize each NF-e.

`sefaz-autorizador` consumes NotaFiscalEmitida from its own queue, signs the NF-e with the emitente's
A1 certificate, sends it to SEFAZ and puts the answer on the bus (NotaFiscalAutorizada, ...Rejeitada,
...Denegada, source `nfe.sefaz`). It needs the internet and no database, so it is the one function
outside the VPC (DESIGN: "Lambda sem VPC" where it fits; the VPC has no route out), and its role is
what makes that safe: its queue, its events, the archive's `nfe/*` objects and the certificate's
secret, nothing else, and no `rds-db:connect` (the policy pack checks both).

The certificate's secret is created here, empty: the program never holds its value. The team fills
it once and on every renewal (docs/operations.md):

    aws secretsmanager put-secret-value --secret-id <sefazCertificateSecretArn> \\
        --secret-string '{"pkcs12": "<base64 of the .pfx>", "password": "..."}'

It is encrypted under the fiscal archive's key, which the function already uses for the nfeProc it
archives (no second key-month, no further grant), and its resource policy denies GetSecretValue to
every principal but the function's role, so an administrator's broad IAM policy does not read it either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam, metrics
from components.consumers import ConsumerQueues, create_consumer_queues, subscribe
from components.fiscal_archive import FiscalArchiveAccess
from components.lambdas import FunctionResources, LambdaRuntime, create_function, errors_alarm
from functions.shared.events import Source
from nfe import topology

FUNCTION_NAME = "sefaz-autorizador"
# How the policy pack and the cost review recognise the certificate's secret (they import nothing of
# the program: policies/nfe_policies/isolation.py keeps its own copy, and a test keeps them equal).
CERTIFICATE_TAG_KEY = "nfe:secret"
CERTIFICATE_TAG_VALUE = "sefaz-certificate"
CERTIFICATE_NAME_PREFIX = "nfe-sefaz-certificado-"
# Secrets Manager keeps a deleted secret this long, and refuses a new one of the same name meanwhile:
# hence a name prefix (a recreated stack gets a new name) rather than a fixed name.
PROD_RECOVERY_WINDOW_DAYS = 30
DEV_RECOVERY_WINDOW_DAYS = 7
PENDING_PERIOD_SECONDS = 300
PENDING_EVALUATION_PERIODS = 3


@dataclass(frozen=True)
class SefazParticipantArgs:
    runtime: LambdaRuntime
    bus_name: pulumi.Input[str]
    bus_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    fiscal_archive: FiscalArchiveAccess
    # nfe:sefaz.pendingAlarmMinutes: how long a nota may wait for SEFAZ before the alarm fires.
    pending_alarm_minutes: int = 15
    # The migration invocation of the deploy: the function and its mapping wait for it like every other
    # application function (its events feed consumers of the new schema; the deploy-order policy).
    migrated: Sequence[pulumi.Resource] = ()


def certificate_tags() -> dict[str, str]:
    return {CERTIFICATE_TAG_KEY: CERTIFICATE_TAG_VALUE}


def publish_statement(bus_arn: pulumi.Input[str]) -> dict[str, Any]:
    """PutEvents on the bus, only as `nfe.sefaz`: a function reachable from the internet's side of the
    stack cannot speak for Faturamento or Estoque (EventBridge's `events:source` condition key)."""
    return iam.statement(
        ["events:PutEvents"],
        [bus_arn],
        sid="PublishToBusAsSefaz",
        condition={"StringEquals": {"events:source": Source.SEFAZ.value}},
    )


class SefazParticipant(pulumi.ComponentResource):
    resources: FunctionResources
    certificate_secret: aws.secretsmanager.Secret
    queues: ConsumerQueues

    def __init__(self, name: str, args: SefazParticipantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:SefazParticipant", name, None, opts)
        self.args = args
        spec = topology.function(FUNCTION_NAME)
        if spec.in_vpc or spec.database_role is not None:
            raise ValueError(f"{spec.name} must run outside the VPC without a database role (nfe/topology.py)")
        runtime = args.runtime
        self.certificate_secret = self._create_secret(name)
        self.queues = create_consumer_queues(
            self,
            name,
            spec,
            runtime,
            args.bus_name,
            args.alarm_topic_arn,
            target_dlq_name=f"{spec.service}-events-target-dlq",
        )
        archive = args.fiscal_archive
        statements = [
            iam.statement(iam.SQS_CONSUME_ACTIONS, self.queues.queue_arns, sid="OwnQueue"),
            # The queues use SQS-managed SSE: no KMS grant is needed to read them.
            publish_statement(args.bus_arn),
            # The nfeProc of what SEFAZ authorized or denied; the key's use is in these statements too,
            # and it is also the key the certificate's secret is encrypted under.
            *archive.statements(),
            iam.statement(
                ["secretsmanager:GetSecretValue"], [self.certificate_secret.arn], sid="CertificateSecretOnly"
            ),
        ]
        # No database mapping: a function without a database role gets no DB_* variable.
        prefix = f"{name}-autorizador"
        self.resources = create_function(
            self,
            prefix,
            spec,
            runtime,
            None,
            environment={},
            bus_name=args.bus_name,
            statements=statements,
            depends_on=args.migrated,
            fiscal_archive_bucket=archive.bucket_name,
            sefaz_certificate_secret=self.certificate_secret.arn,
        )
        self._restrict_secret(name, self.resources.role)
        errors_alarm(self, prefix, self.resources, args.alarm_topic_arn)
        subscribe(self, name, self.resources, self.queues, runtime, args.migrated, args.alarm_topic_arn)
        self._pending_alarm(name)
        self._refusal_rate_alarm(name)
        self._certificate_alarm(name)
        self.register_outputs(
            {
                "functionName": self.resources.function.name,
                "certificateSecretArn": self.certificate_secret.arn,
                "queueUrl": self.queues.routed[0].queue.url,
            }
        )

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    # -- the certificate -----------------------------------------------------------------------------

    def _create_secret(self, name: str) -> aws.secretsmanager.Secret:
        env = self.args.runtime.environment
        return aws.secretsmanager.Secret(
            f"{name}-certificate",
            name_prefix=f"{CERTIFICATE_NAME_PREFIX}{env}-",
            description=(
                "The emitente's A1 certificate for SEFAZ, read only by sefaz-autorizador: "
                '{"pkcs12": "<base64 of the .pfx>", "password": "..."}, put by the team with '
                "put-secret-value (docs/operations.md)"
            ),
            kms_key_id=self.args.fiscal_archive.key_arn,
            recovery_window_in_days=PROD_RECOVERY_WINDOW_DAYS if env == "prod" else DEV_RECOVERY_WINDOW_DAYS,
            tags=certificate_tags(),
            opts=self._opts(),
        )

    def _restrict_secret(self, name: str, reader: aws.iam.Role) -> aws.secretsmanager.SecretPolicy:
        """Nobody but the function's role reads the value, whatever their IAM policies allow."""
        secret = self.certificate_secret
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "OnlyTheSefazFunctionReads",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                        # For a role's sessions aws:PrincipalArn is the role's ARN.
                        "Condition": {"StringNotEquals": {"aws:PrincipalArn": reader.arn}},
                    }
                ],
            }
        )
        return aws.secretsmanager.SecretPolicy(
            f"{name}-certificate-policy",
            secret_arn=secret.arn,
            policy=policy,
            block_public_policy=True,
            opts=self._opts(),
        )

    # -- alarms --------------------------------------------------------------------------------------

    def _pending_alarm(self, name: str) -> aws.cloudwatch.MetricAlarm:
        """A nota has waited for SEFAZ longer than nfe:sefaz.pendingAlarmMinutes.

        The function reports the wait on every attempt, failed ones included, so while SEFAZ is down
        the figure keeps growing with each backed-off retry. Retries come minutes apart, hence any one
        of the last three 5-minute maxima, and silence (nothing waiting, or between retries) is fine.
        """
        minutes = self.args.pending_alarm_minutes
        return aws.cloudwatch.MetricAlarm(
            f"{name}-pending-alarm",
            alarm_description=f"A nota has waited more than {minutes} minutes for SEFAZ's authorization",
            namespace=metrics.METRICS_NAMESPACE,
            metric_name=metrics.SEFAZ_PENDING_METRIC,
            dimensions=metrics.SEFAZ_DIMENSIONS,
            statistic="Maximum",
            period=PENDING_PERIOD_SECONDS,
            evaluation_periods=PENDING_EVALUATION_PERIODS,
            datapoints_to_alarm=1,
            threshold=minutes * 60,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[self.args.alarm_topic_arn],
            ok_actions=[self.args.alarm_topic_arn],
            opts=self._opts(),
        )

    def _refusal_rate_alarm(self, name: str) -> aws.cloudwatch.MetricAlarm:
        """SEFAZ rejects more than a fifth of the notas it answers, over enough notas to mean it.

        Metric math: rejected / (rejected + authorized) in 15 minutes, when that window holds at least
        SEFAZ_REFUSAL_MIN_ANSWERS answers (otherwise 0). A missing count is 0 (a quiet window has no
        datapoint at all). Denials are not refusals of the document: they are about the parties.
        """

        def count(query_id: str, metric_name: str) -> dict[str, Any]:
            return {
                "id": query_id,
                "metric": {
                    "namespace": metrics.METRICS_NAMESPACE,
                    "metric_name": metric_name,
                    "dimensions": metrics.SEFAZ_DIMENSIONS,
                    "period": metrics.SEFAZ_REFUSAL_PERIOD_SECONDS,
                    "stat": "Sum",
                },
                "return_data": False,
            }

        minimum = metrics.SEFAZ_REFUSAL_MIN_ANSWERS
        percent = metrics.SEFAZ_REFUSAL_RATE_PERCENT
        return aws.cloudwatch.MetricAlarm(
            f"{name}-refusal-rate-alarm",
            alarm_description=(
                f"SEFAZ rejected more than {percent}% of the notas it answered in 15 minutes "
                f"(at least {minimum} answers)"
            ),
            metric_queries=[
                # The rejected count first: the runbook link is found by the first metric with a section.
                count("rejeitadas", metrics.SEFAZ_REJECTED_METRIC),
                count("autorizadas", metrics.SEFAZ_AUTHORIZED_METRIC),
                {"id": "r", "expression": "FILL(rejeitadas, 0)", "return_data": False},
                {"id": "a", "expression": "FILL(autorizadas, 0)", "return_data": False},
                {
                    "id": "taxa",
                    "expression": f"IF(r + a >= {minimum}, 100 * r / (r + a), 0)",
                    "label": "rejected % of SEFAZ's answers",
                    "return_data": True,
                },
            ],
            evaluation_periods=1,
            threshold=percent,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[self.args.alarm_topic_arn],
            ok_actions=[self.args.alarm_topic_arn],
            opts=self._opts(),
        )

    def _certificate_alarm(self, name: str) -> aws.cloudwatch.MetricAlarm:
        """The A1 certificate expires in less than 30 days.

        Reported by every invocation that loads it; with no invocations there is nothing new to say,
        so a missing datapoint keeps the alarm as it was (`ignore`) rather than clearing it: an
        expiring certificate stays in ALARM over a quiet weekend until one renewed is put.
        """
        days = metrics.SEFAZ_CERTIFICATE_ALARM_DAYS
        return aws.cloudwatch.MetricAlarm(
            f"{name}-certificate-alarm",
            alarm_description=f"The emitente's A1 certificate expires in less than {days} days",
            namespace=metrics.METRICS_NAMESPACE,
            metric_name=metrics.SEFAZ_CERTIFICATE_DAYS_METRIC,
            dimensions=metrics.SEFAZ_DIMENSIONS,
            statistic="Minimum",
            period=3600,
            evaluation_periods=1,
            threshold=days,
            comparison_operator="LessThanThreshold",
            treat_missing_data="ignore",
            alarm_actions=[self.args.alarm_topic_arn],
            ok_actions=[self.args.alarm_topic_arn],
            opts=self._opts(),
        )
