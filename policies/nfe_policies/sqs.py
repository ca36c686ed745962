"""SQS: encrypted queues, a dead-letter queue behind every working queue, visibility that outlasts the consumer.

How a DLQ is recognised: a queue is a dead-letter queue when another resource in the stack names its
ARN as a dead-letter target: an SQS redrive policy's `deadLetterTargetArn` (on the queue or in an
`aws.sqs.RedrivePolicy`), an EventBridge target's or bus's `deadLetterConfig.arn`, a Lambda
function's `deadLetterConfig.targetArn`. Names are not used: a `-dlq` suffix would let any queue
exempt itself, and a queue nothing dead-letters into is not a DLQ. That needs the whole stack,
hence stack policies.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    EVENT_BUS,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LAMBDA_FUNCTION,
    SQS_QUEUE,
    SQS_REDRIVE_POLICY,
    as_mapping,
    json_document,
    number,
    number_or,
    of_type,
    show,
)

DEFAULT_MAX_RECEIVE_COUNT = 5
DEFAULT_VISIBILITY_MULTIPLIER = 6
# What AWS uses when a program sets neither value.
SQS_DEFAULT_VISIBILITY_SECONDS = 30


def sqs_encryption(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SQS_QUEUE:
        return
    if args.props.get("kmsMasterKeyId") or args.props.get("sqsManagedSseEnabled") is True:
        return
    report_violation("neither sqsManagedSseEnabled nor kmsMasterKeyId is set: declare the queue's encryption", None)


def redrive_policies(resources: list[PolicyResource]) -> dict[str, Any]:
    """Each queue's redrive policy document (still JSON text), by queue URN.

    Set on the queue itself or by a separate `aws.sqs.RedrivePolicy` naming the queue's URL.
    """
    queues = of_type(resources, SQS_QUEUE)
    by_url = {str(q.props.get("url")): q.urn for q in queues if q.props.get("url")}
    found = {q.urn: q.props.get("redrivePolicy") for q in queues if q.props.get("redrivePolicy")}
    for policy in of_type(resources, SQS_REDRIVE_POLICY):
        queue_urn = by_url.get(str(policy.props.get("queueUrl")))
        if queue_urn:
            found[queue_urn] = policy.props.get("redrivePolicy")
    return found


def dead_letter_targets(resources: list[PolicyResource], redrives: dict[str, Any]) -> set[str]:
    """ARNs some resource in the stack sends its failed messages or events to."""
    arns: list[Any] = []
    for document in redrives.values():
        try:
            arns.append(as_mapping(json_document(document)).get("deadLetterTargetArn"))
        except ValueError:
            continue
    for resource in of_type(resources, EVENT_TARGET, EVENT_BUS):
        arns.append(as_mapping(resource.props.get("deadLetterConfig")).get("arn"))
    for resource in of_type(resources, LAMBDA_FUNCTION):
        arns.append(as_mapping(resource.props.get("deadLetterConfig")).get("targetArn"))
    return {str(arn) for arn in arns if arn}


def sqs_dead_letter_queue(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    maximum = number_or(args.get_config().get("maxReceiveCount"), DEFAULT_MAX_RECEIVE_COUNT)
    redrives = redrive_policies(args.resources)
    dlqs = dead_letter_targets(args.resources, redrives)
    for queue in of_type(args.resources, SQS_QUEUE):
        if str(queue.props.get("arn")) in dlqs:
            continue
        try:
            redrive = as_mapping(json_document(redrives.get(queue.urn)))
        except ValueError as exc:
            report_violation(f"redrivePolicy is {exc}", queue.urn)
            continue
        if not redrive.get("deadLetterTargetArn"):
            report_violation(
                f"no redrive policy: give it a dead-letter queue (maxReceiveCount <= {show(maximum)})",
                queue.urn,
            )
            continue
        receives = number(redrive.get("maxReceiveCount"))
        if receives is None or not 1 <= receives <= maximum:
            report_violation(f"maxReceiveCount is {show(receives)}; between 1 and {show(maximum)} required", queue.urn)


def _function_for(reference: Any, functions: list[PolicyResource]) -> PolicyResource | None:
    """The function an event source mapping's functionName designates (name, ARN, or either with a qualifier)."""
    ref = str(reference or "")
    for function in functions:
        for known in (function.props.get("arn"), function.props.get("name")):
            if known and (ref == str(known) or ref.startswith(f"{known}:")):
                return function
    return None


def sqs_visibility_covers_consumer(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    multiplier = number_or(args.get_config().get("multiplier"), DEFAULT_VISIBILITY_MULTIPLIER)
    queues = {str(q.props.get("arn")): q for q in of_type(args.resources, SQS_QUEUE) if q.props.get("arn")}
    functions = of_type(args.resources, LAMBDA_FUNCTION)
    for mapping in of_type(args.resources, EVENT_SOURCE_MAPPING):
        queue = queues.get(str(mapping.props.get("eventSourceArn")))
        function = _function_for(mapping.props.get("functionName"), functions)
        # A stream, or a queue or function another stack owns: nothing here to compare.
        if queue is None or function is None:
            continue
        visibility = number_or(queue.props.get("visibilityTimeoutSeconds"), SQS_DEFAULT_VISIBILITY_SECONDS)
        timeout = number_or(function.props.get("timeout"), LAMBDA_DEFAULT_TIMEOUT_SECONDS)
        if visibility < multiplier * timeout:
            report_violation(
                f"visibility timeout {show(visibility)} s is less than {show(multiplier)} x the "
                f"{show(timeout)} s timeout of its consumer {function.name} ({show(multiplier * timeout)} s)",
                queue.urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="sqs-encryption",
        description="SQS queues declare server-side encryption (SQS-managed or KMS).",
        validate=sqs_encryption,
    ),
    StackValidationPolicy(
        name="sqs-dead-letter-queue",
        description="Every SQS queue that is not itself a dead-letter queue redrives to one within a few receives.",
        validate=sqs_dead_letter_queue,
        config_schema=PolicyConfigSchema(
            properties={"maxReceiveCount": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_RECEIVE_COUNT}}
        ),
    ),
    StackValidationPolicy(
        name="sqs-visibility-covers-consumer",
        description="A queue's visibility timeout is at least 6x the timeout of the Lambda function consuming it.",
        validate=sqs_visibility_covers_consumer,
        config_schema=PolicyConfigSchema(
            properties={"multiplier": {"type": "number", "minimum": 1, "default": DEFAULT_VISIBILITY_MULTIPLIER}}
        ),
    ),
]
