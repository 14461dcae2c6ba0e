"""Each limit the checklist states is defined once, in the catalogue: every parameter that
carries it defaults to the catalogue's value, and the shared parameters file agrees."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from runbook.core.checklist.catalogue import Limit, LimitUse, load_catalogue
from runbook.core.checklist.limits import (
    CatalogueLimit,
    ParameterPathError,
    limit_drift,
    limit_value,
    parameter_default,
)
from runbook.core.parameters import Parameters, read_yaml


def test_every_model_default_equals_the_catalogue_limit() -> None:
    assert limit_drift(Parameters) == []


def test_the_limits_the_checklist_states_are_there() -> None:
    wanted = {
        "error_rate_gate": 0.01,
        "error_rate_rollback": 0.05,
        "p95_gate_ms": 200,
        "p95_rollback_ms": 1000,
        "p95_warning_ms": 500,
        "database_ms": 100,
        "cpu_percent": 70,
        "coverage_utility": 85,
        "coverage_endpoints": 90,
        "coverage_services": 85,
        "coverage_repositories": 80,
        "performance_degradation": 0.20,
        "availability_percent": 99,
    }
    assert {k: limit_value(k) for k in wanted} == wanted


def test_a_drifted_default_is_named() -> None:
    catalogue = load_catalogue()
    changed = dict(catalogue.limits)
    changed["p95_gate_ms"] = changed["p95_gate_ms"].model_copy(update={"value": 250})
    problems = limit_drift(Parameters, catalogue.model_copy(update={"limits": changed}))
    assert problems and all("p95_gate_ms" in p for p in problems)
    assert any("performance.gates.p95_ms defaults to 200.0" in p for p in problems)


def test_scaled_parameters_and_list_items_are_read() -> None:
    assert parameter_default(Parameters, "monitor.alert_rules[response-time].threshold") == 0.5
    assert (
        parameter_default(
            Parameters,
            "pre_deployment.coverage_layers[coverage.backend.endpoints].threshold_percent",
        )
        == 90
    )
    with pytest.raises(ParameterPathError, match="no field 'p96_ms'"):
        parameter_default(Parameters, "performance.gates.p96_ms")


def test_one_parameter_may_carry_one_limit_only() -> None:
    catalogue = load_catalogue()
    limits = dict(catalogue.limits)
    limits["twice"] = Limit(
        value=200, unit="ms", checklist=None, parameters=[LimitUse(path="performance.gates.p95_ms")]
    )
    with pytest.raises(ValueError, match="two limits in one place"):
        type(catalogue).model_validate(
            {**catalogue.model_dump(), "limits": {k: v.model_dump() for k, v in limits.items()}}
        )


def test_the_shared_parameters_file_does_not_restate_a_limit(repo_root: Path) -> None:
    base = read_yaml(repo_root / "parameters" / "_base.yaml")
    restated = []
    for name, limit in load_catalogue().limits.items():
        for use in limit.parameters:
            node = base
            for part in use.path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                restated.append((name, use.path))
    assert restated == []


def _field_info(path: str) -> FieldInfo:
    """The pydantic field at a plain dotted path of Parameters."""
    model: type[BaseModel] = Parameters
    parts = path.split(".")
    for part in parts[:-1]:
        annotation = model.model_fields[part].annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        model = args[0] if args else annotation
    return model.model_fields[parts[-1]]


def test_every_plain_limit_parameter_reads_its_default_from_the_catalogue() -> None:
    """A number written beside the catalogue's would be a second definition of the limit."""
    wrong = []
    for name, limit in load_catalogue().limits.items():
        for use in limit.parameters:
            if "[" in use.path:
                continue  # list items: built from the catalogue at default time (drift test)
            factory = _field_info(use.path).default_factory
            if not (
                isinstance(factory, CatalogueLimit)
                and factory.name == name
                and factory.scale == use.scale
            ):
                wrong.append(f"{use.path}: {factory!r}")
    assert wrong == []


def test_a_catalogue_limit_factory_follows_the_catalogue() -> None:
    factory = CatalogueLimit("p95_warning_ms", scale=0.001)
    assert factory() == pytest.approx(limit_value("p95_warning_ms") / 1000)
    with pytest.raises(KeyError, match="no limit 'p96'"):
        CatalogueLimit("p96")()
