"""Compare two OpenAPI documents operation by operation and classify every contract change.

Covered: operations (added / removed / renamed / newly deprecated), parameters (path-level and
operation-level, with local $refs), the request body and the success (2xx) responses'
schemas, recursively through properties, array items, additionalProperties, allOf merges
and nullable wrappers (3.1 `anyOf [X, null]`, 3.0 `nullable`). Local `$ref`s are resolved
with cycle protection; external `$ref`s are treated as opaque. Descriptions, examples and
other documentation-only fields are ignored.

Before diffing, `path_rewrites` normalise paths (e.g. a doubled prefix the candidate fixed).
A removed and an added operation with the same method are one `operation-renamed` change when
they are paired, in this order, by: the same path template up to path-parameter names (not
breaking), the same operationId, one renamed path segment, a prefix move shared by several
operations, or the same request/response shape; every rule pairs only unambiguous matches.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from runbook.phases.pre_deployment.contract.errors import ContractError
from runbook.phases.pre_deployment.contract.params import (
    HTTP_METHODS,
    AcceptedChange,
    ChangeKind,
    PathRewrite,
)

REQUEST, RESPONSE = "request", "response"
_SUCCESS = re.compile(r"^2(\d\d|XX)$")
_MAX_DEPTH = 32
_JSON_MEDIA = ("application/json",)

# kinds that are breaking wherever they occur (type changes and field optionality depend on
# the direction and are decided where they are found)
ALWAYS_BREAKING = {
    ChangeKind.OPERATION_REMOVED,
    ChangeKind.OPERATION_RENAMED,
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
    baseline_path: str | None = Field(
        default=None, description="the baseline's path before a path rewrite, if it had one"
    )

    def matches(self, accepted: AcceptedChange) -> bool:
        """True when an accepted change covers this difference (an accepted removal also
        covers the same operation reported as renamed: its old path is gone either way)."""
        kinds = {self.kind}
        if self.kind is ChangeKind.OPERATION_RENAMED:
            kinds.add(ChangeKind.OPERATION_REMOVED)
        return (
            accepted.operation == self.operation
            and accepted.kind in kinds
            and (accepted.location is None or accepted.location == self.location)
        )

    def paths(self) -> list[str]:
        """Every path this difference is about: its own, the baseline's original, the new one."""
        found = [self.operation.split(" ", 1)[1]]
        if self.baseline_path:
            found.append(self.baseline_path)
        if self.kind is ChangeKind.OPERATION_RENAMED and isinstance(self.after, str):
            found.append(self.after.split(" ", 1)[-1])
        return found


class AppliedRewrite(BaseModel):
    """A path rewrite rule and the paths it changed."""

    model_config = ConfigDict(extra="forbid")

    from_: str = Field(serialization_alias="from")
    to: str
    on: str
    rewritten: list[tuple[str, str]] = Field(default_factory=list, description="(before, after)")


class PrefixMove(BaseModel):
    """Several operations that moved from one path prefix to another (a rename of a prefix)."""

    model_config = ConfigDict(extra="forbid")

    from_prefix: str
    to_prefix: str
    operations: int


class ContractDiff(BaseModel):
    """All differences between two OpenAPI documents."""

    model_config = ConfigDict(extra="forbid")

    baseline_version: str | None = None
    candidate_version: str | None = None
    operations_before: int
    operations_after: int
    deprecated_in_baseline: list[str] = Field(default_factory=list)
    differences: list[Difference] = Field(default_factory=list)
    rewrites: list[AppliedRewrite] = Field(default_factory=list)
    prefix_moves: list[PrefixMove] = Field(default_factory=list)

    @property
    def breaking(self) -> list[Difference]:
        return [d for d in self.differences if d.breaking]

    @property
    def compatible(self) -> list[Difference]:
        return [d for d in self.differences if not d.breaking]

    @property
    def gone(self) -> list[Difference]:
        """Operations whose baseline path no longer answers: removed, or moved elsewhere."""
        return [
            d
            for d in self.differences
            if d.kind is ChangeKind.OPERATION_REMOVED
            or (d.kind is ChangeKind.OPERATION_RENAMED and d.breaking)
        ]

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
        self.moves: list[PrefixMove] = []
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

    def run(self, detect_renames: bool = True) -> None:
        ops_b, ops_a = _operations(self.before), _operations(self.after)
        removed = sorted(ops_b.keys() - ops_a.keys(), key=_operation_sort_key)
        added = sorted(ops_a.keys() - ops_b.keys(), key=_operation_sort_key)
        pairs = (
            pair_renames(ops_b, ops_a, removed, added, self.before, self.after)
            if detect_renames
            else []
        )
        self.moves = prefix_moves(pairs)
        renamed_to = {old: (new, reason) for old, new, reason in pairs}
        renamed_from = {new for _, new, _ in pairs}
        for name in sorted(ops_b.keys() | ops_a.keys(), key=_operation_sort_key):
            if name in renamed_to:
                new, reason = renamed_to[name]
                self.renamed(name, new, reason, ops_b[name], ops_a[new])
            elif name in renamed_from:
                continue
            elif name not in ops_a:
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

    def renamed(self, old: str, new: str, reason: str, before: tuple, after: tuple) -> None:
        same_url = reason == SAME_TEMPLATE
        deprecated = bool(before[0].get("deprecated"))
        self.add(
            ChangeKind.OPERATION_RENAMED,
            old,
            "operation",
            old,
            new,
            f"{old} is now {new} ({reason})"
            + (
                ""
                if same_url
                else ": callers of the old path are not served"
                + ("" if deprecated else ", and it was not deprecated first")
            ),
            breaking=not same_url,
        )
        if same_url:
            self.operation(new, before, after, path_names=_positional(old, new))
        else:
            self.operation(new, before, after, moved=True)

    def operation(
        self,
        name: str,
        before: tuple,
        after: tuple,
        path_names: dict[str, str] | None = None,
        moved: bool = False,
    ) -> None:
        """Compare one operation; after a rename, path parameters are matched by position
        (`path_names`: old name -> new) when the path template is the same, else left out:
        they are part of the path, whose change is already reported."""
        (op_b, params_b), (op_a, params_a) = before, after
        if path_names is not None:
            params_b = {
                (w, path_names.get(n, n) if w == "path" else n): p for (w, n), p in params_b.items()
            }
        if moved:
            params_b = {k: p for k, p in params_b.items() if k[0] != "path"}
            params_a = {k: p for k, p in params_a.items() if k[0] != "path"}
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


# -- path rewrites ---------------------------------------------------------------------------


def rewrite_paths(
    document: dict[str, Any], rules: list[PathRewrite], side: str
) -> tuple[dict[str, Any], list[AppliedRewrite], dict[str, str]]:
    """`document` with the rules for `side` applied to its paths, in order; the rules as applied
    and {new path: original path}. Two paths rewritten onto one is a ContractError."""
    paths = dict(document.get("paths") or {})
    original = {path: path for path in paths}
    applied = []
    for rule in rules:
        if rule.on not in (side, "both"):
            continue
        pattern = re.compile(rule.from_)
        changed: list[tuple[str, str]] = []
        result: dict[str, tuple[str, Any]] = {}
        for path, item in paths.items():
            new = pattern.sub(rule.to, path, count=1)
            if new in result:
                first, second = sorted((original[path], original[result[new][0]]))
                raise ContractError(
                    f"path rewrite {rule.from_!r} -> {rule.to!r} maps both {first} and "
                    f"{second} of the {side} onto {new}"
                )
            result[new] = (path, item)
            if new != path:
                changed.append((original[path], new))
        original = {new: original[old] for new, (old, _) in result.items()}
        paths = {new: item for new, (_, item) in result.items()}
        applied.append(AppliedRewrite(from_=rule.from_, to=rule.to, on=side, rewritten=changed))
    return {**document, "paths": paths}, applied, {n: o for n, o in original.items() if n != o}


# -- rename detection ------------------------------------------------------------------------

SAME_TEMPLATE = "only path parameter names differ"
_PARAM = re.compile(r"\{[^}]*\}")
_Ops = dict[str, tuple[dict, dict[tuple[str, str], dict]]]


def _split(name: str) -> tuple[str, list[str]]:
    method, path = name.split(" ", 1)
    return method, path.split("/")


def _literal(segment: str) -> bool:
    return bool(segment) and not _PARAM.fullmatch(segment)


def _positional(old: str, new: str) -> dict[str, str]:
    """Path parameter names of `old` mapped to those of `new`, by position."""
    before, after = _PARAM.findall(old), _PARAM.findall(new)
    return {b[1:-1]: a[1:-1] for b, a in zip(before, after, strict=False)}


def _unique(candidates: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The candidate pairs whose two sides appear in no other candidate pair."""
    olds = [old for old, _ in candidates]
    news = [new for _, new in candidates]
    return [(o, n) for o, n in candidates if olds.count(o) == 1 and news.count(n) == 1]


def _same_template(old: str, new: str, _ops: tuple[_Ops, _Ops]) -> bool:
    return _PARAM.sub("{}", old) == _PARAM.sub("{}", new)


def _same_operation_id(old: str, new: str, ops: tuple[_Ops, _Ops]) -> bool:
    op_id = ops[0][old][0].get("operationId")
    return isinstance(op_id, str) and bool(op_id) and op_id == ops[1][new][0].get("operationId")


def _one_segment_renamed(old: str, new: str, _ops: tuple[_Ops, _Ops]) -> bool:
    (_, b), (_, a) = _split(old), _split(new)
    if len(a) != len(b):
        return False
    differing = [i for i, (x, y) in enumerate(zip(b, a, strict=True)) if x != y]
    kept = [x for i, x in enumerate(b) if i not in differing and _literal(x)]
    return len(differing) == 1 and bool(kept)


def _suffix(old: str, new: str) -> int:
    """How many trailing path segments two operations share (at least one literal, or 0)."""
    (_, b), (_, a) = _split(old), _split(new)
    n = 0
    while n < min(len(a), len(b)) - 1 and a[-1 - n] == b[-1 - n]:
        n += 1
    return n if any(_literal(x) for x in b[len(b) - n :]) else 0


def _move(old: str, new: str) -> tuple[str, str] | None:
    n = _suffix(old, new)
    (_, b), (_, a) = _split(old), _split(new)
    if not n or b[: len(b) - n] == a[: len(a) - n]:
        return None
    return "/".join(b[: len(b) - n]), "/".join(a[: len(a) - n])


def _shape_key(name: str, ops: _Ops, doc: dict) -> str | None:
    op, params = ops[name]
    body = _deref(doc, op.get("requestBody"))[1]
    body_schema = _media_schema(doc, body) if body else None
    responses = {c: _media_schema(doc, r) for c, r in _success_responses(doc, op).items()}
    telling = [s for s in (body_schema, *responses.values()) if isinstance(s, dict)]
    if not any("$ref" in s or s.get("properties") or s.get("items") for s in telling):
        return None  # nothing distinctive: many operations look like this
    named = {k: p.get("required", False) for k, p in params.items() if k[0] != "path"}
    return json.dumps([body_schema, responses, sorted(named.items())], sort_keys=True)


def pair_renames(
    ops_b: _Ops,
    ops_a: _Ops,
    removed: list[str],
    added: list[str],
    before: dict | None = None,
    after: dict | None = None,
) -> list[tuple[str, str, str]]:
    """(old, new, reason) for every removed operation that reappears under another path."""
    pairs: list[tuple[str, str, str]] = []
    left, right = list(removed), list(added)
    ops = (ops_b, ops_a)
    rules = (
        (SAME_TEMPLATE, _same_template),
        ("same operationId", _same_operation_id),
        ("one path segment renamed", _one_segment_renamed),
    )

    def take(found: list[tuple[str, str]], reason: str) -> None:
        for old, new in _unique(found):
            pairs.append((old, new, reason))
            left.remove(old)
            right.remove(new)

    def same_method(old: str, new: str) -> bool:
        return old.split(" ", 1)[0] == new.split(" ", 1)[0]

    for reason, rule in rules:
        take([(o, n) for o in left for n in right if same_method(o, n) and rule(o, n, ops)], reason)
    moves: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for o in left:
        for n in right:
            move = _move(o, n) if same_method(o, n) else None
            if move is not None:
                moves.setdefault(move, []).append((o, n))
    shared = [pair for group in moves.values() if len(group) >= 2 for pair in group]
    take(shared, "path prefix moved")
    if before is not None and after is not None:
        keys_b = {o: _shape_key(o, ops_b, before) for o in left}
        keys_a = {n: _shape_key(n, ops_a, after) for n in right}
        take(
            [
                (o, n)
                for o in left
                for n in right
                if same_method(o, n) and keys_b[o] is not None and keys_b[o] == keys_a[n]
            ],
            "same request and response shape",
        )
    return sorted(pairs, key=lambda p: _operation_sort_key(p[0]))


def prefix_moves(pairs: list[tuple[str, str, str]]) -> list[PrefixMove]:
    """Renames that share one prefix change, with the longest prefixes they all share."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for old, new, reason in pairs:
        move = _move(old, new) if reason != SAME_TEMPLATE else None
        if move is not None:
            groups.setdefault(move, []).append((old, new))
    found = []
    for (head_b, head_a), group in groups.items():
        if len(group) < 2:
            continue
        tails = [_split(old)[1][len(head_b.split("/")) :] for old, _ in group]
        common: list[str] = []
        for parts in zip(*tails, strict=False):
            if len(set(parts)) != 1 or not _literal(parts[0]):
                break
            common.append(parts[0])
        extra = "".join(f"/{part}" for part in common)
        found.append(
            PrefixMove(
                from_prefix=f"{head_b}{extra}/",
                to_prefix=f"{head_a}{extra}/",
                operations=len(group),
            )
        )
    return sorted(found, key=lambda m: -m.operations)


def diff_schemas(
    baseline: dict[str, Any],
    candidate: dict[str, Any],
    rewrites: list[PathRewrite] | None = None,
    detect_renames: bool = True,
) -> ContractDiff:
    """Every contract difference from `baseline` to `candidate`, each classified breaking or not,
    after the path rewrites; removed + added pairs reported as renames when detected."""
    rules = list(rewrites or [])
    baseline, applied_b, original_b = rewrite_paths(baseline, rules, "baseline")
    candidate, applied_a, _ = rewrite_paths(candidate, rules, "candidate")
    differ = _Differ(baseline, candidate)
    differ.run(detect_renames)
    for d in differ.out:
        if d.kind is not ChangeKind.OPERATION_ADDED:
            d.baseline_path = original_b.get(d.operation.split(" ", 1)[1])
    ops_b = _operations(baseline)
    return ContractDiff(
        baseline_version=(baseline.get("info") or {}).get("version"),
        candidate_version=(candidate.get("info") or {}).get("version"),
        operations_before=len(ops_b),
        operations_after=len(_operations(candidate)),
        deprecated_in_baseline=sorted(n for n, (op, _) in ops_b.items() if op.get("deprecated")),
        differences=differ.out,
        rewrites=applied_b + applied_a,
        prefix_moves=differ.moves,
    )
