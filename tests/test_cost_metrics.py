"""Custom metrics: the registry the cost review prices (nfe/cost/metrics.py) against what the code
in functions/ emits, read from its source, and the `custom-metrics` line it gives each function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nfe.config import parse
from nfe.cost import PreviewResource, estimate
from nfe.cost.metrics import COLD_START, EMITTED_METRICS, SERVICE, metrics_of
from nfe.topology import FUNCTIONS

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = ROOT / "functions"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(FUNCTIONS_DIR.rglob("*.py"))
        if "__pycache__" not in path.parts and "tests" not in path.parts
    }


SOURCES = _sources()


def _constants(module: str) -> dict[str, Any]:
    """Module-level NAME = "literal" assignments, and names imported from other modules of functions/."""
    found: dict[str, Any] = {}
    for node in SOURCES[module].body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
        elif isinstance(node, ast.ImportFrom) and node.module in SOURCES:
            imported = _constants(node.module)
            for alias in node.names:
                if alias.name in imported:
                    found[alias.asname or alias.name] = imported[alias.name]
    return found


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef):
            return node
    return None


def _names(expr: ast.expr, module: str, parents: dict[ast.AST, ast.AST], where: str) -> set[str]:
    """The metric names an `add_metric(name=...)` argument can take: a literal, a module constant,
    or a parameter of the enclosing function, resolved at every call of that function here."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.Name):
        constants = _constants(module)
        if expr.id in constants:
            return {str(constants[expr.id])}
        function = _enclosing_function(expr, parents)
        params = [a.arg for a in function.args.args] if function else []
        if function is not None and expr.id in params:
            position = params.index(expr.id)
            names: set[str] = set()
            for call in ast.walk(SOURCES[module]):
                if not isinstance(call, ast.Call):
                    continue
                callee = call.func
                called = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
                if called != function.name:
                    continue
                # self.method(a, b): the first parameter (self) is not among the call's arguments.
                offset = 1 if isinstance(callee, ast.Attribute) and params[:1] in (["self"], ["cls"]) else 0
                arguments = {kw.arg: kw.value for kw in call.keywords}
                value = arguments.get(expr.id)
                if value is None and position - offset < len(call.args):
                    value = call.args[position - offset]
                assert value is not None, f"{where}: a call of {function.name} without {expr.id}"
                names |= _names(value, module, parents, where)
            assert names, f"{where}: {function.name} is never called here"
            return names
    raise AssertionError(f"{where}: cannot tell the metric name; name it with a literal or a module constant")


def _calls(module: str, attribute: str) -> Iterator[ast.Call]:
    for node in ast.walk(SOURCES[module]):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute:
            yield node


def emitted_metrics() -> dict[str, set[str]]:
    """Metric name -> the modules of functions/ that emit it (ColdStart: the handler modules)."""
    found: dict[str, set[str]] = {}
    for module, tree in SOURCES.items():
        parents = _parents(tree)
        for call in _calls(module, "add_metric"):
            where = f"{module}:{call.lineno}"
            arg = next((kw.value for kw in call.keywords if kw.arg == "name"), call.args[0] if call.args else None)
            assert arg is not None, f"{where}: add_metric without a name"
            for name in _names(arg, module, parents, where):
                found.setdefault(name, set()).add(module)
        for call in _calls(module, "log_metrics"):
            if any(kw.arg == "capture_cold_start_metric" and getattr(kw.value, "value", False) for kw in call.keywords):
                found.setdefault(COLD_START, set()).add(module)
    return found


def _imports(module: str) -> set[str]:
    found = set()
    for node in ast.walk(SOURCES[module]):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("functions"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in SOURCES}


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_imports(current))
    return seen


HANDLER_MODULES = {fn.name: fn.handler.rsplit(".", 1)[0] for fn in FUNCTIONS}


def test_every_metric_the_code_emits_is_in_the_registry_and_no_other() -> None:
    # Given the metric names functions/ emits (add_metric calls and cold-start captures)
    emitted = emitted_metrics()
    # Then the registry the cost review prices lists exactly those
    assert sorted(emitted) == sorted(m.name for m in EMITTED_METRICS)
    assert len({m.name for m in EMITTED_METRICS}) == len(EMITTED_METRICS)


def test_each_function_said_to_emit_a_metric_runs_the_code_that_emits_it() -> None:
    # Given where each metric is emitted
    emitted = emitted_metrics()
    for metric in EMITTED_METRICS:
        for function in metric.functions:
            handler = HANDLER_MODULES[function]
            if metric.name == COLD_START:
                # Then a cold-start metric belongs to exactly the handlers that capture it
                assert handler in emitted[COLD_START], (metric.name, function)
            else:
                # Then the function's handler imports (directly or not) a module that emits it
                assert _closure(handler) & emitted[metric.name], (metric.name, function)
    cold = next(m for m in EMITTED_METRICS if m.name == COLD_START)
    assert {HANDLER_MODULES[f] for f in cold.functions} == emitted[COLD_START]


def test_metrics_carry_only_the_service_dimension() -> None:
    # Given the code: no metric adds dimensions beyond Powertools' default `service`
    extra = [
        f"{module}:{call.lineno}"
        for module in SOURCES
        for attribute in ("add_dimension", "set_default_dimensions", "single_metric")
        for call in _calls(module, attribute)
    ]
    # Then each name is one metric per function; a new dimension would multiply them (update the registry)
    assert extra == []
    assert all(m.dimensions == SERVICE for m in EMITTED_METRICS if m.name != COLD_START)


def fn(name: str, **extra: Any) -> PreviewResource:
    inputs = {"memorySize": 512, "architectures": ["arm64"], **extra}
    return PreviewResource(
        f"urn:pulumi:dev::nfe::aws:lambda/function:Function::{name}", "aws:lambda/function:Function", name, None, inputs
    )


def test_each_function_pays_for_its_metrics_on_a_custom_metrics_line() -> None:
    # Given the faturamento consumer (13 saga metrics + ColdStart) and an estoque API (ColdStart only)
    config = parse({"environment": "dev", "monthlyBudgetUsd": 60})
    result = estimate([fn("faturamento-consumer"), fn("estoque-api")], config)
    lines = {(i.resource, i.dimension): i for i in result.items}
    # Then each has a custom-metrics line at $0.30 per metric-month
    assert lines[("faturamento-consumer", "custom-metrics")].monthly == pytest.approx(14 * 0.30)
    assert lines[("estoque-api", "custom-metrics")].monthly == pytest.approx(0.30)
    assert "MensagensRejeitadas" in lines[("faturamento-consumer", "custom-metrics")].basis
    assert len(metrics_of("faturamento-consumer")) == 14
    # And the whole system emits 41 metrics (11 of them the SEFAZ participant's, 5 the publisher's, the
    # inutilização deadline among them): $12.30 a month per stack
    assert len(metrics_of("sefaz-autorizador")) == 11
    assert [m.name for m in metrics_of("outbox-publisher")][-1] == "DiasParaInutilizar"
    assert len(metrics_of("outbox-publisher")) == 5
    assert sum(len(metrics_of(f.name)) for f in FUNCTIONS) == 41


def test_a_function_with_metrics_disabled_pays_for_none() -> None:
    # Given the consumer with Powertools metrics switched off, as local mode runs it
    config = parse({"environment": "dev", "monthlyBudgetUsd": 60})
    environment = {"variables": {"POWERTOOLS_METRICS_DISABLED": "true"}}
    result = estimate([fn("faturamento-consumer", environment=environment)], config)
    # Then it has no custom-metrics line
    assert "custom-metrics" not in {i.dimension for i in result.items}
