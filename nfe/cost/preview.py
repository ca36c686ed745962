"""Read the resources of a `pulumi preview --json` document (Pulumi CLI v3, `display.PreviewDigest`).

The shape followed (docs/cost.md, shared/reference/pulumi-preview-json.md):
`{"config": {...}, "steps": [{"op", "urn", "provider", "oldState", "newState", "detailedDiff"}, ...],
"duration", "changeSummary": {op: count}}`, each state being `{"urn", "custom", "type", "inputs",
"parent", ...}` with camelCase inputs. Unknown values are the UUID placeholder below; secrets print
as "[secret]". Run `pulumi preview --json --show-sames` for a whole-stack estimate: without
`--show-sames` unchanged resources are missing, and this module refuses such a document. The
streaming variant (NDJSON engine events, printed when PULUMI_ENABLE_STREAMING_JSON_PREVIEW is set)
has another shape altogether and is refused with a message saying what to run instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"  # noqa: S105 (the placeholder Pulumi prints for secrets)
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
# The signature value marking a secret (sdk/go/common/resource/sig: Secret); other signatures mark
# assets, archives and resource references, which are not secret.
SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105
STREAMING_VARIABLE = "PULUMI_ENABLE_STREAMING_JSON_PREVIEW"

# Steps whose newState is what the stack holds after the update.
_PRICED_OPS = {"create", "update", "same", "replace", "create-replacement", "import", "import-replacement"}
# Steps that leave nothing behind, or only read: nothing to price.
_SKIPPED_OPS = {
    "delete",
    "delete-replaced",
    "read",
    "read-replacement",
    "refresh",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
    "diff",
    "extend-parameterize",
}


class PreviewError(ValueError):
    """The document is not a usable whole-stack preview."""


@dataclass(frozen=True)
class PreviewResource:
    """The attributes the estimator reads, as `nfe.mockrun.ResourceRecord` has them."""

    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any] = field(default_factory=dict)
    custom: bool = True


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def is_secret(value: Any) -> bool:
    if isinstance(value, str):
        return value == SECRET
    return isinstance(value, Mapping) and value.get(SIGNATURE_KEY) == SECRET_SIGNATURE


def _is_engine_event(value: Any) -> bool:
    # apitype.EngineEvent: {"sequence", "timestamp", "<kind>Event": {...}}
    return (
        isinstance(value, dict)
        and "sequence" in value
        and "timestamp" in value
        and any(key.endswith("Event") for key in value)
    )


def _streaming_refusal() -> PreviewError:
    return PreviewError(
        "this is a streaming JSON preview (one engine event per line, what `pulumi preview --json` prints"
        f" when {STREAMING_VARIABLE} is set), not the preview digest: unset {STREAMING_VARIABLE}, run"
        " `pulumi preview --json --show-sames > preview.json` and pass that file, or run"
        " `nfe cost --preview` to price the offline plan in preview mode"
    )


def read_preview(text: str) -> Any:
    """The JSON document in `text`; refuses the streaming (NDJSON) variant by name."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        first = next((line for line in text.splitlines() if line.strip()), "")
        try:
            head = json.loads(first)
        except json.JSONDecodeError:
            raise PreviewError(f"not JSON: {exc}") from None
        if _is_engine_event(head):
            raise _streaming_refusal() from None
        raise PreviewError(f"not JSON: {exc}") from None
    if _is_engine_event(document):
        raise _streaming_refusal()
    return document


def _name_from_urn(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _stack_from_urn(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type chain>::<name>
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def parse_preview(document: Any) -> tuple[list[PreviewResource], dict[str, str]]:
    """Resources the stack holds after the previewed update, and the document's config map."""
    if _is_engine_event(document):
        raise _streaming_refusal()
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise PreviewError("not a `pulumi preview --json` document: no `steps` list")
    errors = [
        str(d.get("message", "")).strip()
        for d in document.get("diagnostics") or []
        if isinstance(d, dict) and d.get("severity") == "error"
    ]
    if errors:
        raise PreviewError("the preview reported errors: " + "; ".join(errors))

    resources: list[PreviewResource] = []
    seen: set[str] = set()
    listed_sames = 0
    for index, step in enumerate(document["steps"]):
        if not isinstance(step, dict) or "op" not in step:
            raise PreviewError(f"steps[{index}] has no `op`")
        op = step["op"]
        if op == "same":
            listed_sames += 1
        if op in _SKIPPED_OPS:
            continue
        if op not in _PRICED_OPS:
            raise PreviewError(f"steps[{index}]: unknown op {op!r}")
        state = step.get("newState")
        if not isinstance(state, dict) or "type" not in state:
            raise PreviewError(f"steps[{index}] ({op}) has no newState with a type")
        urn = str(state.get("urn") or step.get("urn"))
        # With --show-replacement-steps a replacement is listed once per half; keep one.
        if urn in seen:
            continue
        seen.add(urn)
        raw_inputs = state.get("inputs") or {}
        if not isinstance(raw_inputs, dict):
            raw_inputs = {}
        inputs = {k: v for k, v in raw_inputs.items() if not k.startswith("__")}
        resources.append(
            PreviewResource(
                urn=urn,
                type=str(state["type"]),
                name=_name_from_urn(urn),
                parent=state.get("parent") or None,
                inputs=inputs,
                custom=bool(state.get("custom", True)),
            )
        )

    summary = document.get("changeSummary") or {}
    same_total = summary.get("same", 0) if isinstance(summary, dict) else 0
    # The root Stack step is listed even without --show-sames, so compare against the listed count.
    if isinstance(same_total, int) and same_total > listed_sames:
        raise PreviewError(
            f"{same_total - listed_sames} unchanged resource(s) are missing from the document:"
            " run `pulumi preview --json --show-sames`"
        )
    config = document.get("config") or {}
    return resources, {str(k): str(v) for k, v in config.items()} if isinstance(config, dict) else {}


def stack_of(resources: list[PreviewResource]) -> str | None:
    return _stack_from_urn(resources[0].urn) if resources else None
