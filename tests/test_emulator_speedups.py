"""nfe/local/emulator.py's `_speed_up_moto` replaces parts of moto's SQS model with cheaper
equivalents (issue 15): what SQS answers must not change."""

from __future__ import annotations

import re
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from nfe.local import emulator


def test_sqs_answers_the_same_with_the_speedups() -> None:
    emulator._speed_up_moto()
    emulator._speed_up_moto()  # idempotent: a second call wraps nothing twice
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs.models import sqs_backends

    assert camelcase_to_underscores("ApproximateNumberOfMessagesNotVisible") == (
        "approximate_number_of_messages_not_visible"
    )
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="a")
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "60"
        assert attributes["ApproximateNumberOfMessages"] == "1"

        handles = []
        for count in (1, 2):
            (message,) = sqs.receive_message(
                QueueUrl=url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
            )["Messages"]
            assert message["Attributes"]["ApproximateReceiveCount"] == str(count)
            assert re.fullmatch("[a-z]{185}", message["ReceiptHandle"])
            handles.append(message["ReceiptHandle"])
        assert handles[0] != handles[1]

        # Past its retention period a message is no longer received.
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("q")
        message_model: Any = queue._messages[0]
        message_model.sent_timestamp -= 61_000
        assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
