"""The SEFAZ participant as both stacks deploy it, under Pulumi's mocks: outside the VPC, a role that
names its queue, its events, its archive objects and its certificate and nothing else, the certificate's
secret created empty, its queue and mapping, and its alarms (components/sefaz_participant.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import metrics
from components.lambdas import LambdaRuntime, Network, create_function
from nfe import build, function_env, topology
from tests.test_stack_properties import Stack, actions_on, stack

__all__ = ["stack"]  # the module-scoped dev/prod fixture

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SECRET = "aws:secretsmanager/secret:Secret"
SPEC = topology.function("sefaz-autorizador")


def alarm(stack: Stack, metric_name: str) -> dict[str, Any]:
    (found,) = [a.inputs for a in stack.of_type(ALARM) if a.inputs.get("metricName") == metric_name]
    return found


def test_the_function_runs_outside_the_vpc_without_a_database(stack: Stack) -> None:
    function = stack.function(SPEC.name).inputs
    # No VPC config: it reaches SEFAZ over the internet, which the VPC (no NAT) has no route to
    assert "vpcConfig" not in function
    assert (function["timeout"], function["memorySize"], function["reservedConcurrentExecutions"]) == (60, 512, 4)
    assert function["handler"] == "functions.sefaz.handler.handler"
    # And exactly these variables: no DB_*, no EMITENTE (the XML carries the emitente), no base URL
    env = function["environment"]["variables"]
    secret = stack.one(SECRET)
    bucket = stack.result.outputs["fiscalArchiveBucket"]
    expected = {
        "POWERTOOLS_SERVICE_NAME": SPEC.name,
        "POWERTOOLS_METRICS_NAMESPACE": "nfe",
        "EVENT_BUS_NAME": f"nfe-events-{stack.name}",
        "OUTAGE_TOLERANCE_SECONDS": "900",
        "FISCAL_ARCHIVE_BUCKET": bucket,
        "SEFAZ_CERTIFICATE_SECRET": secret.state["arn"],
        # The emitente whose números it inutiliza (names and addresses; no secret)
        "EMITENTE": env["EMITENTE"],
    }
    assert json.loads(env["EMITENTE"])["cnpj"]
    if stack.name == "prod":
        # prod's bundle is packaged (a real run reads nfe:sefaz.caBundlePath; the plan does not)
        expected["SEFAZ_CA_BUNDLE"] = build.SEFAZ_CA_BUNDLE_RUNTIME_PATH
    assert env == expected
    # The one computation of a function's variables, shared with local mode
    assert env == function_env.function_environment(
        SPEC,
        {},
        f"nfe-events-{stack.name}",
        None,
        900,
        env["EMITENTE"],
        fiscal_archive_bucket=bucket,
        sefaz_certificate_secret=secret.state["arn"],
        sefaz_ca_bundle=expected.get("SEFAZ_CA_BUNDLE"),
    )


def test_its_role_names_its_queue_events_archive_objects_and_certificate_only(stack: Stack) -> None:
    statements = stack.function_policy(stack.function(SPEC.name))
    by_sid = {s["Sid"]: s for s in statements}
    queue = stack.queue("sefaz-pedidos").state["arn"]
    bus = stack.named("aws:cloudwatch/eventBus:EventBus", f"nfe-events-{stack.name}").state["arn"]
    bucket = stack.result.outputs["fiscalArchiveBucket"]
    key = stack.result.by_name("fiscal-archive-key").state["arn"]
    secret = stack.one(SECRET).state["arn"]
    log_group = stack.named("aws:cloudwatch/logGroup:LogGroup", f"/aws/lambda/{SPEC.name}-{stack.name}")
    assert {sid: (s["Action"], s["Resource"]) for sid, s in by_sid.items()} == {
        "OwnLogGroup": (["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group.state['arn']}:*"]),
        "XRayWrites": (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
        "OwnQueue": (
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
            [queue],
        ),
        "PublishToBusAsSefaz": (["events:PutEvents"], [bus]),
        "FiscalArchiveDocuments": (["s3:PutObject", "s3:GetObject"], [f"arn:aws:s3:::{bucket}/nfe/*"]),
        "FiscalArchiveKey": (["kms:GenerateDataKey", "kms:Decrypt"], [key]),
        "CertificateSecretOnly": (["secretsmanager:GetSecretValue"], [secret]),
    }
    # It speaks on the bus only as nfe.sefaz, never for Faturamento or Estoque
    assert by_sid["PublishToBusAsSefaz"]["Condition"] == {"StringEquals": {"events:source": "nfe.sefaz"}}
    # No database, no ENIs
    assert actions_on(statements, "rds-db:connect") == []
    assert actions_on(statements, "ec2:CreateNetworkInterface") == []


def test_the_certificate_secret_is_created_empty_under_the_archive_key(stack: Stack) -> None:
    secret = stack.one(SECRET)
    assert secret.inputs["kmsKeyId"] == stack.result.by_name("fiscal-archive-key").state["arn"]
    assert secret.inputs["tags"] == {"nfe:secret": "sefaz-certificate"}
    assert secret.inputs["namePrefix"] == f"nfe-sefaz-certificado-{stack.name}-"
    assert secret.inputs["recoveryWindowInDays"] == (30 if stack.name == "prod" else 7)
    # The program never holds the value: no version, and the outputs name the secret only
    assert stack.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []
    assert stack.result.outputs["sefazCertificateSecretArn"] == secret.state["arn"]
    assert secret.state["name"].startswith(f"nfe-sefaz-certificado-{stack.name}-")
    # Its resource policy denies every principal but the function's role
    (policy,) = stack.of_type("aws:secretsmanager/secretPolicy:SecretPolicy")
    role = stack.by_urn(stack.function(SPEC.name).options["propertyDependencies"]["role"][0])
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    assert (deny["Effect"], deny["Action"], policy.inputs["secretArn"]) == (
        "Deny",
        "secretsmanager:GetSecretValue",
        secret.state["arn"],
    )
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": role.state["arn"]}}
    # And no other role is granted GetSecretValue on it
    readers = [
        p.name
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if secret.state["arn"]
        in actions_on(json.loads(p.inputs["policy"])["Statement"], "secretsmanager:GetSecretValue")
    ]
    assert readers == ["sefaz-autorizador-policy"]


def test_its_queue_takes_one_nota_per_invocation_with_a_visibility_over_six_timeouts(stack: Stack) -> None:
    (spec,) = topology.queues_for(SPEC.name)
    queue = stack.queue(spec.name)
    assert queue.inputs["visibilityTimeoutSeconds"] == 360 >= 6 * stack.function(SPEC.name).inputs["timeout"]
    (mapping,) = [
        m.inputs
        for m in stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if m.inputs["eventSourceArn"] == queue.state["arn"]
    ]
    assert mapping["batchSize"] == 1 and mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # Its whole reservation (SEFAZ blocks a sender that calls too often: 656)
    assert mapping["scalingConfig"]["maximumConcurrency"] == 4
    rule = stack.named("aws:cloudwatch/eventRule:EventRule", f"faturamento-to-sefaz-pedidos-{stack.name}")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["nfe.faturamento"],
        "detail-type": ["NotaFiscalEmitida", "NotaFiscalCancelamentoSolicitado"],
    }
    # Its answers reach the services' own queues, one rule each for the answers it consumes
    for name, answers in (
        (
            "faturamento-sefaz",
            [
                "NotaFiscalAutorizada",
                "NotaFiscalRejeitada",
                "NotaFiscalDenegada",
                "NotaFiscalCancelamentoHomologado",
                "NotaFiscalCancelamentoRejeitado",
                "NumeracaoInutilizada",
            ],
        ),
        ("estoque-sefaz", ["NotaFiscalRejeitada", "NotaFiscalDenegada"]),
    ):
        (routed,) = [q for q in topology.QUEUES if q.name == name]
        assert routed.source.value == "nfe.sefaz"
        stack.queue(name)
        rule = stack.named("aws:cloudwatch/eventRule:EventRule", f"{routed.rule_name}-{stack.name}")
        assert json.loads(rule.inputs["eventPattern"]) == {"source": ["nfe.sefaz"], "detail-type": answers}


def test_a_nota_waiting_past_the_threshold_raises_the_pending_alarm(stack: Stack) -> None:
    pending = alarm(stack, metrics.SEFAZ_PENDING_METRIC)
    assert pending["namespace"] == "nfe" and pending["dimensions"] == {"service": "sefaz-autorizador"}
    assert (pending["statistic"], pending["period"], pending["evaluationPeriods"], pending["datapointsToAlarm"]) == (
        "Maximum",
        300,
        3,
        1,
    )
    assert pending["threshold"] == 15 * 60 and pending["comparisonOperator"] == "GreaterThanThreshold"
    # Attempts back off for minutes: a quiet period is not a breach
    assert pending["treatMissingData"] == "notBreaching"
    assert pending["alarmDescription"].endswith("#alarm-sefaz-authorization-pending")


def test_the_refusal_rate_alarm_divides_rejections_by_answers_above_a_minimum_volume(stack: Stack) -> None:
    (refusals,) = [a.inputs for a in stack.of_type(ALARM) if "metricQueries" in a.inputs]
    queries = {q["id"]: q for q in refusals["metricQueries"]}
    assert {i: q["metric"]["metricName"] for i, q in queries.items() if "metric" in q} == {
        "rejeitadas": "NotasRejeitadas",
        "autorizadas": "NotasAutorizadas",
    }
    assert all(
        (q["metric"]["stat"], q["metric"]["period"], q["metric"]["dimensions"]) == ("Sum", 900, {"service": SPEC.name})
        for q in queries.values()
        if "metric" in q
    )
    # Only the expression is the alarm's series
    assert [i for i, q in queries.items() if q["returnData"]] == ["taxa"]
    assert queries["taxa"]["expression"] == "IF(r + a >= 10, 100 * r / (r + a), 0)"
    assert (queries["r"]["expression"], queries["a"]["expression"]) == ("FILL(rejeitadas, 0)", "FILL(autorizadas, 0)")
    assert (refusals["threshold"], refusals["comparisonOperator"]) == (20, "GreaterThanThreshold")
    assert "metricName" not in refusals and "period" not in refusals
    assert refusals["alarmDescription"].endswith("#alarm-sefaz-refusal-rate")


def test_a_certificate_expiring_within_30_days_raises_an_alarm_that_holds_over_quiet_periods(stack: Stack) -> None:
    expiring = alarm(stack, metrics.SEFAZ_CERTIFICATE_DAYS_METRIC)
    assert (expiring["statistic"], expiring["threshold"], expiring["comparisonOperator"]) == (
        "Minimum",
        30,
        "LessThanThreshold",
    )
    assert expiring["treatMissingData"] == "ignore"
    assert expiring["alarmDescription"].endswith("#alarm-a1-certificate-expiring")


def test_its_queue_dlq_target_dlq_and_function_alarm_as_every_consumer(stack: Stack) -> None:
    watched = {
        (tuple(a.inputs.get("dimensions", {}).values()), a.inputs.get("metricName")) for a in stack.of_type(ALARM)
    }
    env = stack.name
    assert {
        ((f"sefaz-pedidos-{env}",), "ApproximateAgeOfOldestMessage"),
        ((f"sefaz-pedidos-dlq-{env}",), "ApproximateNumberOfMessagesVisible"),
        ((f"sefaz-events-target-dlq-{env}",), "ApproximateNumberOfMessagesVisible"),
        ((f"sefaz-autorizador-{env}",), "Errors"),
        (("sefaz-autorizador",), "MensagensRejeitadas"),
    } <= watched
    assert stack.result.outputs["targetDlqUrls"]["sefaz"].endswith(f"/sefaz-events-target-dlq-{env}")


def test_create_function_refuses_a_network_that_does_not_fit_the_topology() -> None:
    runtime = LambdaRuntime(
        environment="test",
        code_paths={},
        layer_arns=[],
        memory_mb=512,
        api_timeout_seconds=25,
        consumer_timeout_seconds=15,
        reserved_concurrency=10,
        log_retention_days=7,
        db_sslmode="require",
        db_sslrootcert=None,
    )
    network = Network(subnet_ids=["subnet-a"], security_group_ids=["sg-a"])
    with pytest.raises(ValueError, match="runs outside the VPC"):
        create_function(None, "x", SPEC, runtime, network, environment={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runs in the VPC"):
        create_function(None, "x", topology.function("estoque-api"), runtime, None, environment={})  # type: ignore[arg-type]
