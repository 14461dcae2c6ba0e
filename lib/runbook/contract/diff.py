"""Compare two OpenAPI documents operation by operation and classify every contract change.

Covered: operations (added / removed / newly deprecated), parameters (path-level and
operation-level, with local $refs), the request body and the success (2xx) responses'
schemas, recursively through properties, array items, additionalProperties, allOf merges
and nullable wrappers (3.1 `anyOf [X, null]`, 3.0 `nullable`). Local `$ref`s are resolved
with cycle protection; external `$ref`s are treated as opaque. Descriptions, examples and
other documentation-only fields are ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from runbook.contract.params import HTTP_METHODS, AcceptedChange, ChangeKind

REQUEST, RESPONSE = "request", "response"
_SUCCESS = re.compile(r"^2(\d\d|XX)$")
_MAX_DEPTH = 32
_JSON_MEDIA = ("application/json",)

# kinds that are breaking wherever they occur (type changes and field optionality depend on
# the direction and are decided where they are found)
ALWAYS_BREAKING = {
    ChangeKind.OPERATION_REMOVED,
    ChangeKind.REQUIRED_PARAMETER_ADDED,
    ChangeKind.PARAMETER_BECAME_REQUIRED,
    ChangeKind.REQUIRED_BODY_ADDED,
    ChangeKind.REQUIRED_FIELD_ADDED,
    ChangeKind.FIELD_BECAME_REQUIRED,
    ChangeKind.RESPONSE_FIELD_REMOVED,
    ChangeKind.SUCCESS_STATUS_REMOVED,
    ChangeKind.ENUM_VALUE_REMOVED,
}


class Difference(BaseModel):
    """One contract difference between the baseline and the candidate."""

    model_config = ConfigDict(extra="forbid")

    kind: ChangeKind
    breaking: bool
    operation: str = Field(description="'METHOD /path'")
    location: str = Field(description="e.g. \"request body field 'name'\"")
    before: Any = None
    after: Any = None
    message: str

    def matches(self, accepted: AcceptedChange) -> bool:
        """True when an accepted change covers this difference."""
        return (
            accepted.operation == self.operation
            and accepted.kind == self.kind
            and (accepted.location is None or accepted.location == self.location)
        )


class ContractDiff(BaseModel):
    """All differences between two OpenAPI documents."""

    model_config = ConfigDict(extra="forbid")

    baseline_version: str | None = None
    candidate_version: str | None = None
    operations_before: int
    operations_after: int
    deprecated_in_baseline: list[str] = Field(default_factory=list)
    differences: list[Difference] = Field(default_factory=list)

    @property
    def breaking(self) -> list[Difference]:
        return [d for d in self.differences if d.breaking]

    @property
    def compatible(self) -> list[Difference]:
        return [d for d in self.differences if not d.breaking]

    @property
    def newly_deprecated(self) -> list[str]:
        return [d.operation for d in self.differences if d.kind is ChangeKind.OPERATION_DEPRECATED]

    def to_frame(self, accepted: list[AcceptedChange] | None = None) -> pd.DataFrame:
        """One row per difference (breaking first), with an 'accepted' column when given."""
        rows = []
        for d in sorted(self.differences, key=lambda d: (not d.breaking, d.operation)):
            row = {
                "breaking": d.breaking,
                "kind": d.kind.value,
                "operation": d.operation,
                "location": d.location,
                "before": _cell(d.before),
                "after": _cell(d.after),
                "message": d.message,
            }
            if accepted is not None:
                row["accepted"] = any(d.matches(a) for a in accepted)
            rows.append(row)
        columns = ["breaking", "kind", "operation", "location", "before", "after", "message"]
        return pd.DataFrame(rows, columns=columns + (["accepted"] if accepted is not None else []))


def _cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


# -- reading documents ---------------------------------------------------------------------


def _pointer(doc: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        return {}  # external reference: opaque
    node: Any = doc
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return {}
        node = node[key]
    return node


def _deref(doc: dict, node: Any) -> tuple[str | None, dict]:
    """Follow local $refs (cycle-safe); the first ref followed, and the target."""
    first, seen = None, set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            return first, {}
        seen.add(ref)
        first = first or ref
        node = _pointer(doc, ref)
    return first, node if isinstance(node, dict) else {}


def _non_null(members: list) -> list:
    return [m for m in members if not (isinstance(m, dict) and m.get("type") == "null")]


def _shape(doc: dict, schema: Any, depth: int = 0) -> tuple[str | None, dict]:
    """The structural view of a schema: refs followed, nullable wrapper and allOf merged."""
    ref, s = _deref(doc, schema)
    if depth > _MAX_DEPTH:
        return ref, s
    for key in ("anyOf", "oneOf"):
        members = s.get(key)
        if isinstance(members, list) and len(_non_null(members)) == 1:
            inner_ref, inner = _shape(doc, _non_null(members)[0], depth + 1)
            return ref or inner_ref, inner
    if isinstance(s.get("allOf"), list):
        merged = {k: v for k, v in s.items() if k != "allOf"}
        props, required, refs = dict(s.get("properties") or {}), list(s.get("required") or []), []
        for member in s["allOf"]:
            member_ref, part = _shape(doc, member, depth + 1)
            refs.append(str(member_ref))
            props.update(part.get("properties") or {})
            required += part.get("required") or []
            for key in ("type", "enum", "items", "additionalProperties"):
                if key in part:
                    merged.setdefault(key, part[key])
        merged.update(properties=props, required=required)
        return ref or "&".join(refs), merged
    return ref, s


def _type_set(s: dict) -> set[str]:
    declared = s["type"]
    found = {str(t) for t in declared} if isinstance(declared, list) else {str(declared)}
    return found | ({"null"} if s.get("nullable") else set())


def _types(doc: dict, schema: Any, depth: int = 0) -> frozenset[str] | None:
    """The JSON types a schema admits (None = unconstrained or unknown)."""
    _, s = _deref(doc, schema)
    if depth > _MAX_DEPTH:
        return None
    members = s.get("anyOf") or s.get("oneOf")
    found: set[str]
    if "type" in s:
        found = _type_set(s)
    elif isinstance(members, list):
        found = set()
        for member in members:
            member_types = _types(doc, member, depth + 1)
            if member_types is None:
                return None
            found |= member_types
    elif isinstance(s.get("allOf"), list) or "properties" in s:
        shaped = _shape(doc, s, depth + 1)[1]
        if "type" in shaped:
            found = _type_set(shaped)
        elif "properties" in shaped:
            found = {"object"}
        else:
            return None
    else:
        return None
    if "number" in found:
        found.add("integer")
    return frozenset(found)


def _enum(shape: dict) -> list | None:
    if isinstance(shape.get("enum"), list):
        return shape["enum"]
    return [shape["const"]] if "const" in shape else None


def _media_schema(doc: dict, holder: dict) -> Any:
    content = holder.get("content") or {}
    for media in (*_JSON_MEDIA, *content):
        if media in content:
            return _deref(doc, content[media])[1].get("schema")
    return holder.get("schema")


def _operations(doc: dict) -> dict[str, tuple[dict, dict[tuple[str, str], dict]]]:
    """'METHOD /path' -> (operation, {(in, name): parameter}) with path-level parameters merged."""
    result = {}
    for path, raw_item in (doc.get("paths") or {}).items():
        _, item = _deref(doc, raw_item)
        shared = [_deref(doc, p)[1] for p in item.get("parameters") or []]
        for method in HTTP_METHODS:
            if not isinstance(item.get(method), dict):
                continue
            op = item[method]
            params = {}
            for p in shared + [_deref(doc, p)[1] for p in op.get("parameters") or []]:
                params[(p.get("in", "?"), p.get("name", "?"))] = p
            result[f"{method.upper()} {path}"] = (op, params)
    return result


def list_operations(document: dict[str, Any]) -> list[str]:
    """Every operation of an OpenAPI document as 'METHOD /path', sorted by path then method."""
    return sorted(_operations(document), key=_operation_sort_key)


def _success_responses(doc: dict, op: dict) -> dict[str, dict]:
    return {
        str(code): _deref(doc, resp)[1]
        for code, resp in (op.get("responses") or {}).items()
        if _SUCCESS.match(str(code))
    }


# -- comparing -----------------------------------------------------------------------------


class _Differ:
    def __init__(self, before: dict, after: dict) -> None:
        self.before, self.after = before, after
        self.out: list[Difference] = []
        self.visited: set[tuple[str, str, str | None, str | None]] = set()

    def add(
        self,
        kind: ChangeKind,
        op: str,
        location: str,
        before: Any,
        after: Any,
        message: str,
        breaking: bool | None = None,
    ) -> None:
        self.out.append(
            Difference(
                kind=kind,
                breaking=kind in ALWAYS_BREAKING if breaking is None else breaking,
                operation=op,
                location=location,
                before=before,
                after=after,
                message=message,
            )
        )

    def run(self) -> None:
        ops_b, ops_a = _operations(self.before), _operations(self.after)
        for name in sorted(ops_b.keys() | ops_a.keys(), key=_operation_sort_key):
            if name not in ops_a:
                deprecated = bool(ops_b[name][0].get("deprecated"))
                self.add(
                    ChangeKind.OPERATION_REMOVED,
                    name,
                    "operation",
                    {"deprecated": deprecated},
                    None,
                    f"{name} was removed" + ("" if deprecated else " without prior deprecation"),
                )
            elif name not in ops_b:
                self.add(
                    ChangeKind.OPERATION_ADDED,
                    name,
                    "operation",
                    None,
                    {"deprecated": bool(ops_a[name][0].get("deprecated"))},
                    f"{name} was added",
                )
            else:
                self.operation(name, ops_b[name], ops_a[name])

    def operation(self, name: str, before: tuple, after: tuple) -> None:
        (op_b, params_b), (op_a, params_a) = before, after
        if op_a.get("deprecated") and not op_b.get("deprecated"):
            self.add(
                ChangeKind.OPERATION_DEPRECATED,
                name,
                "operation",
                False,
                True,
                f"{name} is newly marked deprecated",
            )
        self.parameters(name, params_b, params_a)
        self.request_body(name, op_b, op_a)
        self.responses(name, op_b, op_a)

    def parameters(self, name: str, before: dict, after: dict) -> None:
        for key in sorted(before.keys() | after.keys()):
            where, pname = key
            loc = f"parameter '{pname}' ({where})"
            b, a = before.get(key), after.get(key)
            if a is None:
                self.add(
                    ChangeKind.PARAMETER_REMOVED,
                    name,
                    loc,
                    "declared",
                    None,
                    f"{loc} is no longer declared",
                )
            elif b is None:
                if a.get("required"):
                    self.add(
                        ChangeKind.REQUIRED_PARAMETER_ADDED,
                        name,
                        loc,
                        None,
                        "required",
                        f"new required {loc}: existing callers do not send it",
                    )
                else:
                    self.add(
                        ChangeKind.OPTIONAL_PARAMETER_ADDED,
                        name,
                        loc,
                        None,
                        "optional",
                        f"new optional {loc}",
                    )
            else:
                if a.get("required") and not b.get("required"):
                    self.add(
                        ChangeKind.PARAMETER_BECAME_REQUIRED,
                        name,
                        loc,
                        "optional",
                        "required",
                        f"{loc} became required",
                    )
                elif b.get("required") and not a.get("required"):
                    self.add(
                        ChangeKind.PARAMETER_BECAME_OPTIONAL,
                        name,
                        loc,
                        "required",
                        "optional",
                        f"{loc} became optional",
                    )
                self.schema(
                    name,
                    loc,
                    "",
                    REQUEST,
                    _media_schema(self.before, b),
                    _media_schema(self.after, a),
                    0,
                )

    def request_body(self, name: str, op_b: dict, op_a: dict) -> None:
        _, b = _deref(self.before, op_b.get("requestBody"))
        _, a = _deref(self.after, op_a.get("requestBody"))
        loc = "request body"
        if not a and not b:
            return
        if not b:
            if a.get("required"):
                self.add(
                    ChangeKind.REQUIRED_BODY_ADDED,
                    name,
                    loc,
                    None,
                    "required",
                    "a required request body was added",
                )
            else:
                self.add(
                    ChangeKind.OPTIONAL_FIELD_ADDED,
                    name,
                    loc,
                    None,
                    "optional",
                    "an optional request body was added",
                )
            return
        if not a:
            self.add(
                ChangeKind.REQUEST_FIELD_REMOVED,
                name,
                loc,
                "accepted",
                None,
                "the request body is no longer accepted",
            )
            return
        if a.get("required") and not b.get("required"):
            self.add(
                ChangeKind.FIELD_BECAME_REQUIRED,
                name,
                loc,
                "optional",
                "required",
                "the request body became required",
            )
        self.schema(
            name, loc, "", REQUEST, _media_schema(self.before, b), _media_schema(self.after, a), 0
        )

    def responses(self, name: str, op_b: dict, op_a: dict) -> None:
        b, a = _success_responses(self.before, op_b), _success_responses(self.after, op_a)
        for code in sorted(b.keys() - a.keys()):
            self.add(
                ChangeKind.SUCCESS_STATUS_REMOVED,
                name,
                f"response {code}",
                code,
                None,
                f"success status {code} is no longer returned",
            )
        for code in sorted(a.keys() - b.keys()):
            self.add(
                ChangeKind.SUCCESS_STATUS_ADDED,
                name,
                f"response {code}",
                None,
                code,
                f"success status {code} was added",
            )
        for code in sorted(a.keys() & b.keys()):
            self.schema(
                name,
                f"response {code}",
                "",
                RESPONSE,
                _media_schema(self.before, b[code]),
                _media_schema(self.after, a[code]),
                0,
            )

    def schema(
        self, name: str, area: str, field: str, direction: str, b: Any, a: Any, depth: int
    ) -> None:
        if b is None or a is None or depth > _MAX_DEPTH:
            return
        b_ref, b_shape = _shape(self.before, b)
        a_ref, a_shape = _shape(self.after, a)
        if b_ref is not None or a_ref is not None:
            # each pair of named schemas is compared once per operation and area: this stops
            # cycles, and keeps shared models from being walked once per path that reaches them
            seen = (name, area, b_ref, a_ref)
            if seen in self.visited:
                return
            self.visited.add(seen)
        loc = f"{area} field '{field}'" if field else area
        bt, at = _types(self.before, b), _types(self.after, a)
        if bt is not None and at is not None and bt != at:
            widened, narrowed = bt <= at, at <= bt
            compatible = widened if direction == REQUEST else narrowed
            self.add(
                ChangeKind.TYPE_CHANGED,
                name,
                loc,
                sorted(bt),
                sorted(at),
                f"{loc} type changed from {'|'.join(sorted(bt))} to {'|'.join(sorted(at))}",
                breaking=not compatible,
            )
            if not (bt & at) - {"null"}:
                return  # nothing structural left in common
        self.enum(name, loc, _enum(b_shape), _enum(a_shape))
        self.properties(name, area, field, direction, b_shape, a_shape, depth + 1)
        for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
            if isinstance(b_shape.get(key), dict) and isinstance(a_shape.get(key), dict):
                self.schema(
                    name, area, f"{field}{suffix}", direction, b_shape[key], a_shape[key], depth + 1
                )

    def enum(self, name: str, loc: str, b: list | None, a: list | None) -> None:
        if b is None or a is None:
            return
        b_keys = {json.dumps(v, sort_keys=True): v for v in b}
        a_keys = {json.dumps(v, sort_keys=True): v for v in a}
        for key in sorted(b_keys.keys() - a_keys.keys()):
            self.add(
                ChangeKind.ENUM_VALUE_REMOVED,
                name,
                loc,
                b_keys[key],
                None,
                f"{loc} no longer allows {key}",
            )
        for key in sorted(a_keys.keys() - b_keys.keys()):
            self.add(
                ChangeKind.ENUM_VALUE_ADDED,
                name,
                loc,
                None,
                a_keys[key],
                f"{loc} now also allows {key}",
            )

    def properties(
        self, name: str, area: str, field: str, direction: str, b: dict, a: dict, depth: int
    ) -> None:
        bp, ap = b.get("properties") or {}, a.get("properties") or {}
        breq, areq = set(b.get("required") or []), set(a.get("required") or [])
        for prop in sorted(bp.keys() | ap.keys()):
            sub = f"{field}.{prop}" if field else prop
            loc = f"{area} field '{sub}'"
            if prop not in ap:
                kind = (
                    ChangeKind.RESPONSE_FIELD_REMOVED
                    if direction == RESPONSE
                    else ChangeKind.REQUEST_FIELD_REMOVED
                )
                self.add(kind, name, loc, "present", None, f"{loc} was removed")
            elif prop not in bp:
                if direction == RESPONSE:
                    self.add(
                        ChangeKind.RESPONSE_FIELD_ADDED,
                        name,
                        loc,
                        None,
                        "present",
                        f"{loc} was added",
                    )
                elif prop in areq:
                    self.add(
                        ChangeKind.REQUIRED_FIELD_ADDED,
                        name,
                        loc,
                        None,
                        "required",
                        f"new required {loc}: existing callers do not send it",
                    )
                else:
                    self.add(
                        ChangeKind.OPTIONAL_FIELD_ADDED,
                        name,
                        loc,
                        None,
                        "optional",
                        f"new optional {loc}",
                    )
            else:
                if prop in areq and prop not in breq:
                    # in a request, callers must now send it; in a response it is now guaranteed
                    self.add(
                        ChangeKind.FIELD_BECAME_REQUIRED,
                        name,
                        loc,
                        "optional",
                        "required",
                        f"{loc} became required",
                        breaking=direction == REQUEST,
                    )
                elif prop in breq and prop not in areq:
                    # in a response, a field that may now be missing breaks readers
                    self.add(
                        ChangeKind.FIELD_BECAME_OPTIONAL,
                        name,
                        loc,
                        "required",
                        "optional",
                        f"{loc} became optional",
                        breaking=direction == RESPONSE,
                    )
                self.schema(name, area, sub, direction, bp[prop], ap[prop], depth)


def _operation_sort_key(name: str) -> tuple[str, str]:
    method, path = name.split(" ", 1)
    return path, method


def diff_schemas(baseline: dict[str, Any], candidate: dict[str, Any]) -> ContractDiff:
    """Every contract difference from `baseline` to `candidate`, each classified breaking or not."""
    differ = _Differ(baseline, candidate)
    differ.run()
    ops_b = _operations(baseline)
    return ContractDiff(
        baseline_version=(baseline.get("info") or {}).get("version"),
        candidate_version=(candidate.get("info") or {}).get("version"),
        operations_before=len(ops_b),
        operations_after=len(_operations(candidate)),
        deprecated_in_baseline=sorted(n for n, (op, _) in ops_b.items() if op.get("deprecated")),
        differences=differ.out,
    )
