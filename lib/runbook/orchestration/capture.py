"""The kernel's capture points, masked (`core.masking`): what a notebook displays (display
data and execute results), prints (stdout, stderr), logs and shows as a traceback has every
resolved secret value replaced by its mask before it leaves the kernel, so it never reaches
the saved notebook. Installed once per kernel by `notebook.start`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

from runbook.core.masking import mask_data, mask_text

_INSTALLED = "_runbook_masking_installed"


def install() -> bool:
    """Mask the running IPython kernel's outputs and this process's log records; True when
    hooks were installed now (False outside IPython or when already installed)."""
    _mask_log_records()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kernel
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, _INSTALLED, False):
        return False
    _mask_displays(shell)
    _mask_tracebacks(shell)
    for name in ("stdout", "stderr"):
        _mask_stream(getattr(sys, name))
    setattr(shell, _INSTALLED, True)
    return True


def _mask_displays(shell: Any) -> None:
    """display(), publish_display_data and the cell's result (Out[n]) are masked."""
    publisher = shell.display_pub
    publish = publisher.publish

    def masked_publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        return publish(mask_data(data), mask_data(metadata), *args, **kwargs)

    publisher.publish = masked_publish
    hook = shell.displayhook
    if hasattr(hook, "write_format_data"):
        write = hook.write_format_data

        def masked_write(format_dict: Any, md_dict: Any = None) -> Any:
            return write(mask_data(format_dict), mask_data(md_dict))

        hook.write_format_data = masked_write


def _mask_tracebacks(shell: Any) -> None:
    """Every traceback the kernel shows (and records as the cell's error output): its text and
    the exception's message masked."""
    show = shell._showtraceback

    def masked_show(etype: Any, evalue: Any, stb: list[str]) -> Any:
        return show(etype, mask_text(str(evalue)), [mask_text(line) for line in stb])

    shell._showtraceback = masked_show


def _mask_stream(stream: Any) -> None:
    """print() and everything else written to the stream is masked, when the kernel's stream
    (ipykernel's OutStream) hands its buffered text to the sender: the text of one flush is
    masked whole (a value written in pieces too), and IPython's per-cell tee around `write`
    is left alone."""
    flush_buffers = getattr(stream, "_flush_buffers", None)
    if flush_buffers is None or getattr(stream, _INSTALLED, False):
        return

    def masked_buffers() -> Iterator[tuple[Any, Any]]:
        for parent, data in flush_buffers():
            yield parent, mask_text(data) if isinstance(data, str) else data

    stream._flush_buffers = masked_buffers
    setattr(stream, _INSTALLED, True)


def _mask_log_records() -> None:
    """Every log record made in this process carries its message already masked."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, _INSTALLED, False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's own business
            return record
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    setattr(masked_record, _INSTALLED, True)
    logging.setLogRecordFactory(masked_record)
