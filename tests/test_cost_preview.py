"""`pulumi preview --json` documents: the hand-written fixture following
shared/reference/pulumi-preview-json.md, priced by hand, and documents the parser must refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfe.cli import main
from nfe.config import StackConfig, parse
from nfe.cost import PreviewError, estimate, parse_preview
from nfe.cost.preview import read_preview

MINIMAL = Path(__file__).resolve().parent / "fixtures" / "preview-minimal.json"


def _seed_usage_config() -> StackConfig:
    return parse(
        {
            "environment": "dev",
            "monthlyBudgetUsd": 60,
            "usage": {
                "apiRequests": 1_000_000,
                "eventsPublished": 1_000_000,
                "sqsMessages": 1_000_000,
                "functions": {"publisher": {"invocations": 500_000, "avgDurationMs": 120}},
            },
        }
    )


def test_hand_written_minimal_preview_is_priced_by_hand() -> None:
    # Given the hand-written document following shared/reference/pulumi-preview-json.md
    resources, config = parse_preview(json.loads(MINIMAL.read_text()))
    # When it is priced with the seed's volumes
    result = estimate(resources, _seed_usage_config())
    # Then: key $1.00; db 730 h x $0.016 + 20 GB x $0.115 + managed secret $0.40; publisher 500K x $0.20/1M
    # + 500K x 0.12 s x 0.25 GB x $0.0000133334 + its 5 custom metrics x $0.30 (usage sets its
    # invocations here, the document has no schedule); queue 3M requests x $0.40/1M
    expected = 1.00 + (11.68 + 2.30 + 0.40) + (0.10 + 15_000 * 0.0000133334 + 5 * 0.30) + 1.20
    assert result.monthly_total == pytest.approx(expected, abs=1e-4)
    assert config["aws:region"] == "us-east-1"
    # And the deleted NAT gateway costs nothing, the SNS topic is unpriced, the RDS lines are the database's
    assert "old-nat" not in {i.resource for i in result.items}
    assert [u.type for u in result.unpriced] == ["aws:sns/topic:Topic"]
    assert {i.component for i in result.items if i.resource == "database-instance"} == {"database"}
    # And the unknown kmsKeyId, the secret username and the code archive did not get in the way
    assert {i.dimension for i in result.items if i.resource == "database-instance"} >= {"instance", "storage"}


def test_a_preview_without_show_sames_is_refused() -> None:
    # Given a digest whose changeSummary counts unchanged resources that are not listed
    document = json.loads(MINIMAL.read_text())
    document["changeSummary"]["same"] = 40
    # Then parsing refuses it and says how to get a complete one
    with pytest.raises(PreviewError, match="--show-sames"):
        parse_preview(document)


def test_a_failed_preview_is_refused() -> None:
    # Given a digest carrying an error diagnostic
    document = json.loads(MINIMAL.read_text())
    document["diagnostics"] = [{"urn": "", "message": "boom\n", "severity": "error"}]
    # Then parsing refuses it with the message
    with pytest.raises(PreviewError, match="boom"):
        parse_preview(document)
    with pytest.raises(PreviewError, match="steps"):
        parse_preview({"resources": []})


STREAMING = Path(__file__).resolve().parent / "fixtures" / "preview-streaming.json"


def test_a_streaming_json_preview_is_refused_naming_the_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the NDJSON engine events `pulumi preview --json` prints with PULUMI_ENABLE_STREAMING_JSON_PREVIEW
    # set, whole and cut to its first line (then a single JSON object)
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  nfe:environment: dev\n  nfe:monthlyBudgetUsd: 60\n")
    first_line = tmp_path / "one-event.json"
    first_line.write_text(STREAMING.read_text().splitlines()[0] + "\n")
    for document in (STREAMING, first_line):
        # When `nfe cost` is given it
        code = main(["cost", "--project-dir", str(tmp_path), "--stack", "dev", "--preview-json", str(document)])
        out, err = capsys.readouterr()
        # Then it exits 2 without a traceback, naming the variable and what to run instead
        assert (code, out) == (2, "")
        assert "streaming JSON preview" in err and "PULUMI_ENABLE_STREAMING_JSON_PREVIEW" in err
        assert "pulumi preview --json --show-sames" in err and "nfe cost --preview" in err
        assert "Traceback" not in err


def test_streaming_events_are_refused_by_the_parser_too() -> None:
    # Given one engine event handed to the parser directly
    event = json.loads(STREAMING.read_text().splitlines()[1])
    # Then it is refused by name, not as a document without steps
    with pytest.raises(PreviewError, match="PULUMI_ENABLE_STREAMING_JSON_PREVIEW"):
        parse_preview(event)
    with pytest.raises(PreviewError, match="PULUMI_ENABLE_STREAMING_JSON_PREVIEW"):
        read_preview(STREAMING.read_text())
    with pytest.raises(PreviewError, match="not JSON"):
        read_preview("{not json\n")
