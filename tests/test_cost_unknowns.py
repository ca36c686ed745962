"""Every input a price depends on, in turn unknown, then secret: the resource is listed unpriced with
the reason, never priced on a guess, never a crash.

The inputs are not listed by hand: the fixture preview (tests/fixtures/preview-priced-inputs.json,
one resource of every priced type with every priced input set) is priced once with inputs that
record each path a pricer or the usage split reads. Each recorded path is then replaced by the
unknown placeholder and by both forms of secret, and the document is priced again. A pricer that
reads a new input is tested the moment it reads it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from nfe.cli import main
from nfe.config import StackConfig, parse
from nfe.cost import CostEstimate, PreviewResource, estimate, parse_preview
from nfe.cost.preview import SECRET, SECRET_SIGNATURE, SIGNATURE_KEY, UNKNOWN
from nfe.cost.pricers import LABEL_ONLY_INPUTS, PRICERS
from nfe.cost.pricing import parse_path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "preview-priced-inputs.json"

# The three ways a value the estimator cannot use shows up: `pulumi preview --json` prints unknowns
# as the engine's placeholder and secrets as "[secret]"; state exports and the streaming events
# carry the signature object instead.
PLACEHOLDERS = {
    "unknown": (UNKNOWN, "is unknown until apply"),
    "secret": (SECRET, "is secret"),
    "secret-object": ({SIGNATURE_KEY: SECRET_SIGNATURE, "ciphertext": SECRET}, "is secret"),
}


def _config() -> StackConfig:
    return parse({"environment": "dev", "monthlyBudgetUsd": 60})


class Recorder:
    def __init__(self) -> None:
        self.reads: set[tuple[str, str]] = set()  # (urn, path)

    def wrap(self, value: Any, urn: str, path: str) -> Any:
        if isinstance(value, Mapping):
            return RecordingMapping(value, self, urn, path)
        if isinstance(value, list):
            return RecordingList(value, self, urn, path)
        return value


class RecordingMapping(Mapping[str, Any]):
    """An inputs object that notes every key read from it (present or not)."""

    def __init__(self, data: Mapping[str, Any], recorder: Recorder, urn: str, path: str) -> None:
        self._data, self._recorder, self._urn, self._path = data, recorder, urn, path

    def _child(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def __getitem__(self, key: str) -> Any:
        # Checking for the secret signature is how secrets are recognised, not a read of an input.
        if key != SIGNATURE_KEY:
            self._recorder.reads.add((self._urn, self._child(key)))
        return self._recorder.wrap(self._data[key], self._urn, self._child(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class RecordingList(list[Any]):
    def __init__(self, data: list[Any], recorder: Recorder, urn: str, path: str) -> None:
        super().__init__(data)
        self._recorder, self._urn, self._path = recorder, urn, path

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int):
            path = f"{self._path}[{index}]"
            self._recorder.reads.add((self._urn, path))
            return self._recorder.wrap(super().__getitem__(index), self._urn, path)
        return super().__getitem__(index)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_text())
    return document


def _priced(document: dict[str, Any]) -> CostEstimate:
    resources, _ = parse_preview(document)
    return estimate(resources, _config())


def _recorded_reads() -> list[tuple[str, str, str]]:
    """(urn, type, path) of every input read while pricing the fixture."""
    resources, _ = parse_preview(_document())
    recorder = Recorder()
    wrapped = [
        PreviewResource(r.urn, r.type, r.name, r.parent, recorder.wrap(r.inputs, r.urn, ""), r.custom)  # type: ignore[arg-type]
        for r in resources
    ]
    estimate(wrapped, _config())
    types = {r.urn: r.type for r in resources}
    return sorted((urn, types[urn], path) for urn, path in recorder.reads)


READS = _recorded_reads()
BASELINE = _priced(_document())


def _replace(document: dict[str, Any], urn: str, path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    state = next(s["newState"] for s in document["steps"] if s["newState"]["urn"] == urn)
    target: Any = state["inputs"]
    *parents, last = parse_path(path)
    for part in parents:
        target = target[part]
    target[last] = copy.deepcopy(value)
    return document


def _lines(result: CostEstimate) -> dict[tuple[str, str], float]:
    return {(i.resource, i.dimension): round(i.monthly, 9) for i in result.items}


def test_the_fixture_holds_every_priced_type() -> None:
    # Given the fixture preview (a new pricer needs a resource in it, or its inputs go untested)
    resources, _ = parse_preview(_document())
    # Then every type the estimator prices is in it
    assert set(PRICERS) <= {r.type for r in resources}
    # And everything is priced except the broker, whose hourly price no source gives
    assert [(u.resource, u.reason) for u in BASELINE.unpriced] == [
        ("ops-broker", "mq.rabbitmq.mq.t3.micro.single-instance not found for us-east-1 (no source)")
    ]
    # And the inputs named in issue 11 are among those read
    paths = {p for _, _, p in READS}
    assert {"ephemeralStorage.size", "tracingConfig.mode", "scheduleExpression", "instanceClass"} <= paths


@pytest.mark.parametrize("placeholder", list(PLACEHOLDERS))
@pytest.mark.parametrize(
    ("urn", "type_token", "path"), READS, ids=[f"{u.rsplit('::', 1)[-1]}:{p}" for u, _, p in READS]
)
def test_an_unusable_priced_input_makes_its_resource_unpriced(
    urn: str, type_token: str, path: str, placeholder: str
) -> None:
    # Given the fixture preview with this one input unknown (or secret)
    value, wording = PLACEHOLDERS[placeholder]
    document = _replace(_document(), urn, path, value)
    # When it is priced
    result = _priced(document)
    # Then nothing is priced differently from before: a line is either the same or gone
    before = _lines(BASELINE)
    assert {key: before.get(key) for key in _lines(result)} == _lines(result)
    if (type_token, path) in LABEL_ONLY_INPUTS:
        # (an input read only for a label changes no price)
        assert result.monthly_total == pytest.approx(BASELINE.monthly_total)
        return
    # And a resource is listed unpriced, saying which input and why
    earlier = {(u.resource, u.reason) for u in BASELINE.unpriced}
    reasons = [u.reason for u in result.unpriced if (u.resource, u.reason) not in earlier]
    assert any(f"input {path} {wording}" in reason for reason in reasons), reasons


def test_lambda_ephemeral_storage_unknown_is_unpriced_by_the_cli_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a preview whose Lambda ephemeralStorage.size is unknown (it crashed `nfe cost --preview-json`)
    urn = next(s["urn"] for s in _document()["steps"] if s["urn"].endswith("::faturamento-api-fn"))
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(_replace(_document(), urn, "ephemeralStorage.size", UNKNOWN)))
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  nfe:environment: dev\n  nfe:monthlyBudgetUsd: 60\n")
    # When the CLI prices it
    code = main(["cost", "--project-dir", str(tmp_path), "--stack", "dev", "--preview-json", str(path)])
    out, err = capsys.readouterr()
    # Then it prints the estimate, with the function unpriced and the reason
    assert (code, err) == (0, "")
    assert "faturamento-api-fn  aws:lambda/function:Function: input ephemeralStorage.size is unknown until apply" in out


def test_an_unknown_tracing_mode_does_not_silently_drop_the_traces() -> None:
    # Given the traced function with its tracing mode unknown
    urn = next(s["urn"] for s in _document()["steps"] if s["urn"].endswith("::faturamento-api-fn"))
    result = _priced(_replace(_document(), urn, "tracingConfig.mode", UNKNOWN))
    # Then it is not priced without its X-Ray line: it is unpriced, naming the input
    assert ("faturamento-api-fn", "traces") not in _lines(result)
    assert ("faturamento-api-fn", "compute") not in _lines(result)
    reason = next(u.reason for u in result.unpriced if u.resource == "faturamento-api-fn")
    assert reason == "input tracingConfig.mode is unknown until apply"
