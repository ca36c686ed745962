"""Read the resources of a `pulumi preview --json` document (Pulumi CLI v3, `display.PreviewDigest`).

The shape followed (docs/cost.md, shared/reference/pulumi-preview-json.md):
`{"config": {...}, "steps": [{"op", "urn", "provider", "oldState", "newState", "detailedDiff"}, ...],
"duration", "changeSummary": {op: count}}`, each state being `{"urn", "custom", "type", "inputs",
"parent", ...}` with camelCase inputs. Unknown values are the UUID placeholder below; secrets print
as "[secret]". Run `pulumi preview --json --show-sames` for a whole-stack estimate: without
`--show-sames` unchanged resources are missing, and this module refuses such a document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"  # noqa: S105 (the placeholder Pulumi prints for secrets)
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"

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
    return value == UNKNOWN


def is_secret(value: Any) -> bool:
    return value == SECRET or (isinstance(value, Mapping) and SIGNATURE_KEY in value)


def _name_from_urn(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _stack_from_urn(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type chain>::<name>
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def parse_preview(document: Any) -> tuple[list[PreviewResource], dict[str, str]]:
    """Resources the stack holds after the previewed update, and the document's config map."""
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
