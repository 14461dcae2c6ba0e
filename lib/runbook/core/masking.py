"""Secrets masked at capture, as CI systems mask them in their logs.

One registry of the secret values this process resolved (`secret_refs.resolve` fills it), and
one masking function: every form a value may take in text (raw, JSON-escaped, URL-encoded,
HTML-escaped, base64 at any alignment) is replaced by a mask naming its reference, e.g.
`***$PIXCRAWLER_API_TOKEN***`. It is applied where results and evidence are captured (a
`CheckResult`, `evidence.write_evidence`, the kernel's displays, streams, logs and tracebacks:
see `orchestration.capture`), before anything is written. The secret scanner stays the second
line, looking for the same forms (`value_forms`).
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 4  # shorter values would match everywhere
MIN_INNER_BASE64 = 8  # a base64 fragment shorter than this is not looked for mid-stream

_lock = threading.Lock()
_references: dict[str, str] = {}  # value -> "$NAME"
_text: tuple[re.Pattern[str], dict[str, str]] | None = None
_bytes: tuple[re.Pattern[bytes], dict[bytes, bytes]] | None = None


def mask_for(reference: str) -> str:
    """The text that replaces a secret value: `***$NAME***`."""
    return f"***{reference}***"


def value_forms(value: str) -> set[bytes]:
    """The byte strings a file may hold a secret value as (raw, JSON- and doubly JSON-escaped,
    URL-encoded, HTML-escaped, base64 and URL-safe base64 — also inside a longer base64 text)."""
    if len(value) < MIN_SECRET_LENGTH:
        return set()
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(value)[1:-1])[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
        html.escape(value),
        html.escape(json.dumps(value)[1:-1]),
    }
    out = {f.encode() for f in forms}
    raw = value.encode()
    out.add(base64.b64encode(raw).rstrip(b"="))
    out.add(base64.urlsafe_b64encode(raw).rstrip(b"="))
    out |= {f for f in _inner_base64(raw) if len(f) >= MIN_INNER_BASE64}
    return {f for f in out if len(f) >= MIN_SECRET_LENGTH}


def _inner_base64(raw: bytes) -> set[bytes]:
    """The base64 characters that depend on `raw` alone, for each of the three alignments it
    may have inside a longer encoded text (e.g. `user:TOKEN` in a Basic header)."""
    out = set()
    for pad in range(3):
        start_bit, end_bit = 8 * pad, 8 * (pad + len(raw))
        first, last = -(-start_bit // 6), end_bit // 6  # whole 6-bit groups inside the value
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + raw)
            out.add(encoded[first:last])
    return out


def register(value: str, reference: str) -> None:
    """Remember a resolved secret value and the reference naming it (first reference wins)."""
    global _text, _bytes
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _references:
            return
        _references[value] = reference
        _text = _bytes = None


def forget_all() -> None:
    """Empty the registry (a new process starts empty; tests use this)."""
    global _text, _bytes
    with _lock:
        _references.clear()
        _text = _bytes = None


def references() -> list[str]:
    """The references of the registered values (never the values)."""
    with _lock:
        return sorted(set(_references.values()))


def _compiled_bytes() -> tuple[re.Pattern[bytes], dict[bytes, bytes]] | None:
    global _bytes
    with _lock:
        if _bytes is None and _references:
            table: dict[bytes, bytes] = {}
            for value, reference in _references.items():
                for form in value_forms(value):
                    table.setdefault(form, mask_for(reference).encode())
            ordered = sorted(table, key=len, reverse=True)  # the longest form wins
            _bytes = (re.compile(b"|".join(re.escape(f) for f in ordered)), table)
        return _bytes


def _compiled_text() -> tuple[re.Pattern[str], dict[str, str]] | None:
    global _text
    compiled = _compiled_bytes()
    if compiled is None:
        return None
    with _lock:
        if _text is None:
            table = {
                k.decode("utf-8", "surrogateescape"): v.decode() for k, v in compiled[1].items()
            }
            ordered = sorted(table, key=len, reverse=True)
            _text = (re.compile("|".join(re.escape(f) for f in ordered)), table)
        return _text


def mask_text(text: str) -> str:
    """`text` with every form of every registered value replaced by its mask."""
    compiled = _compiled_text() if _references else None
    if compiled is None or not text:
        return text
    pattern, table = compiled
    return pattern.sub(lambda m: table[m.group(0)], text)


def mask_bytes(data: bytes) -> bytes:
    """`data` with every form of every registered value replaced by its mask (UTF-8)."""
    compiled = _compiled_bytes() if _references else None
    if compiled is None or not data:
        return data
    pattern, table = compiled
    return pattern.sub(lambda m: table[m.group(0)], data)


def mask_data(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings; keys too) with every string
    masked; anything else is returned as it is. Nothing is copied while nothing is registered."""
    if not _references:
        return obj
    return _mask(obj)


def _mask(obj: Any) -> Any:
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, dict):
        return {(_mask(k) if isinstance(k, str) else k): _mask(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_mask(v) for v in obj)
    if isinstance(obj, bytes):
        return mask_bytes(obj)
    return obj
