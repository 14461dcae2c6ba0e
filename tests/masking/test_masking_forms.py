"""Secrets masked at capture, in this process: every form of a resolved value (raw, JSON-,
URL-, HTML-escaped, base64 at any alignment) becomes `***$NAME***` in a CheckResult (as built,
as copied, as serialized and displayed) and in every evidence file written; the secret scanner
then finds nothing."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from runbook.core import masking
from runbook.core.checks import CHECK_MIME, CheckResult, Status
from runbook.core.evidence import write_evidence
from runbook.core.secret_refs import SecretRef, resolve
from runbook.governance.secret_scan import scan_run_dir

VALUE = 'tok_3xAmple/Val+ue=&<q>"9'
MASK = "***$RUNBOOK_TEST_MASKED_TOKEN***"


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The value, resolved through its reference (which registers it), forgotten after."""
    masking.forget_all()
    monkeypatch.setenv("RUNBOOK_TEST_MASKED_TOKEN", VALUE)
    assert resolve(SecretRef(env="RUNBOOK_TEST_MASKED_TOKEN")) == VALUE
    yield VALUE
    masking.forget_all()


def encoded_forms(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "json-twice": json.dumps(json.dumps(value)[1:-1])[1:-1],
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "html": html.escape(value),
        "base64": base64.b64encode(raw).decode(),
        "base64-urlsafe": base64.urlsafe_b64encode(raw).decode(),
        "base64-inside": base64.b64encode(b"user:" + raw + b"!").decode(),
        "base64-inside-2": base64.b64encode(b"us:" + raw).decode(),
    }


def test_every_form_is_masked_naming_the_reference(token: str) -> None:
    for kind, form in encoded_forms(token).items():
        text = f"before {form} after"
        masked = masking.mask_text(text)
        assert MASK in masked, kind
        assert not any(f in masked.encode() for f in masking.value_forms(token)), kind
        assert masking.mask_bytes(text.encode()) == masked.encode(), kind


def test_nothing_registered_leaves_text_alone() -> None:
    masking.forget_all()
    assert masking.mask_text(f"Bearer {VALUE}") == f"Bearer {VALUE}"
    data = {"a": [VALUE]}
    assert masking.mask_data(data) is data
    assert masking.references() == []


def test_check_result_is_masked_when_built_copied_serialized_and_shown(token: str) -> None:
    result = CheckResult(
        id="smoke.auth-me",
        section="§1.2",
        title="Authentication works",
        status=Status.FAIL,
        observed={"body": {"authorization": f"Bearer {token}"}},
        explanation=f"answered 500 (request Authorization: Bearer {token})",
        evidence={"exchange": {"response": {"headers": {"location": quote(token, safe="")}}}},
    )
    assert token not in result.explanation and MASK in result.explanation
    assert MASK in json.dumps(result.observed)
    copied = result.model_copy(update={"evidence": {"leak": token}})  # bypasses validation
    payload = json.dumps(copied.to_payload())
    bundle = json.dumps(copied._repr_mimebundle_())
    for text in (payload, bundle, copied.summary_line() and bundle):
        assert not any(f.decode() in text for f in masking.value_forms(token))
    assert MASK in json.loads(bundle)[CHECK_MIME]["evidence"]["leak"]
    assert CheckResult.from_payload(copied.to_payload()).evidence == {"leak": MASK}


def test_evidence_files_are_masked_before_they_are_written(token: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    forms = encoded_forms(token)
    write_evidence(run_dir / "evidence" / "body.json", json.dumps({"echo": token}))
    write_evidence(run_dir / "evidence" / "all.txt", "\n".join(forms.values()).encode())
    for path in (run_dir / "evidence").iterdir():
        data = path.read_bytes()
        assert MASK.encode() in data
        assert not any(f in data for f in masking.value_forms(token)), path.name
    assert scan_run_dir(run_dir, [token]) == []


def test_unmasked_write_is_possible_only_when_asked(token: str, tmp_path: Path) -> None:
    write_evidence(tmp_path / "key.pem", token, mask=False)
    assert (tmp_path / "key.pem").read_text() == token
