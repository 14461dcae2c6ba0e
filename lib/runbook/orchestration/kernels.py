"""Kernels started ahead of their phase: while one phase runs, the next one's kernel starts and
imports what its notebook imports, so the phase begins with a ready kernel.

Warming changes nothing a notebook can observe: imports run silently (no execution count, no
history, no names left in the user namespace), in a kernel started exactly as papermill would
start it (same kernel, working folder, arguments and environment). A kernel that fails to start
ahead is not used: papermill then starts one itself and reports any failure as usual.
"""

from __future__ import annotations

import ast
import asyncio
import json
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WARM_TIMEOUT_S = 120.0


def notebook_imports(notebook: Path) -> list[str]:
    """The modules a notebook's code cells import at top level, in order (cells that are not
    plain Python, e.g. with magics, are skipped)."""
    modules: list[str] = []
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from runbook import deploy` may name a submodule: try it, then the package
                modules += [f"{node.module}.{alias.name}" for alias in node.names]
                modules.append(node.module)
    return list(dict.fromkeys(modules))


def warm_code(modules: Iterable[str]) -> str:
    """Code that imports `modules`, ignoring any that fail, and leaves no names behind."""
    names = json.dumps(list(dict.fromkeys(modules)))
    return ("import importlib as _rb_il\n"
            f"for _rb_m in {names}:\n"
            "    try:\n"
            "        _rb_il.import_module(_rb_m)\n"
            "    except Exception:\n"
            "        pass\n"
            "del _rb_il, _rb_m\n")  # fmt: skip


@dataclass(frozen=True)
class KernelRecipe:
    """How papermill would start a phase's kernel, and what to import in it ahead."""

    kernel_name: str
    cwd: Path
    extra_arguments: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    start_timeout_s: float = 60.0


@dataclass
class WarmKernel:
    """A started, warmed kernel for papermill (`km=`); `close()` shuts it down at once."""

    manager: Any  # jupyter_client.AsyncKernelManager (tracks the clients it hands out)

    def close(self) -> None:
        """Stop the kernel and every client connected to it (safe to call twice)."""
        for client in getattr(self.manager, "handed_out", []):
            try:
                client.stop_channels()
            except Exception:  # noqa: BLE001 - closing what may already be closed
                pass
        try:
            asyncio.run(self._shutdown())
        except Exception:  # noqa: BLE001 - a kernel that already died is shut down
            pass

    async def _shutdown(self) -> None:
        if self.manager.has_kernel:
            await self.manager.shutdown_kernel(now=True)  # cleans up its resources too
        else:
            await self.manager.cleanup_resources()


def _manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class TrackingKernelManager(AsyncKernelManager):
        """Remembers the clients it creates, so the kernel's owner can close them."""

        def client(self, **kwargs: Any) -> Any:
            made = super().client(**kwargs)
            self.handed_out = [*getattr(self, "handed_out", []), made]
            return made

    return TrackingKernelManager


START_ATTEMPTS = 3


def died_at_start(exc: BaseException) -> bool:
    """A kernel that died before answering kernel_info: typically a port jupyter_client chose
    free and something else bound first ("Address already in use") on a busy machine. Nothing
    ran in it, so starting again is safe."""
    return "died before replying to kernel_info" in str(exc)


def start_warm_kernel(recipe: KernelRecipe) -> WarmKernel:
    """Start a kernel as papermill would and run the recipe's imports in it, silently (a start
    that dies before the kernel answers is tried again with fresh ports)."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_warm_kernel(recipe)
        except RuntimeError as exc:
            if attempt == START_ATTEMPTS or not died_at_start(exc):
                raise
    raise AssertionError("unreachable")


def _start_warm_kernel(recipe: KernelRecipe) -> WarmKernel:
    manager = _manager_class()(kernel_name=recipe.kernel_name)
    asyncio.run(
        manager.start_kernel(cwd=str(recipe.cwd), extra_arguments=list(recipe.extra_arguments))
    )
    kernel = WarmKernel(manager)
    try:
        from jupyter_client.blocking import BlockingKernelClient

        client = BlockingKernelClient()
        client.load_connection_info(manager.get_connection_info())
        client.start_channels()
        try:
            client.wait_for_ready(timeout=recipe.start_timeout_s)
            if recipe.imports:
                msg_id = client.execute(warm_code(recipe.imports), silent=True, store_history=False)
                _wait_reply(client, msg_id, WARM_TIMEOUT_S)
        finally:
            client.stop_channels()
    except BaseException:
        kernel.close()
        raise
    return kernel


def _wait_reply(client: Any, msg_id: str, timeout_s: float) -> None:
    while True:
        reply = client.get_shell_msg(timeout=timeout_s)
        if reply["parent_header"].get("msg_id") == msg_id:
            return


@dataclass
class BackgroundLane:
    """Work done beside the phases (warming kernels, rendering notebooks). `quiet()` waits
    until nothing runs here, for a phase that measures latency on this machine."""

    workers: int = 2
    _pool: ThreadPoolExecutor = field(init=False)
    _pending: set[Future[Any]] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="runbook-lane")

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        """Run `fn(*args)` in the background; the future carries its result or exception."""
        future = self._pool.submit(fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def quiet(self) -> None:
        """Return once every task submitted so far has finished."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - its owner reads the failure
                pass

    def close_when_idle(self) -> None:
        """Accept no more work; what was submitted still runs (its futures stay valid)."""
        self._pool.shutdown(wait=False, cancel_futures=False)


@dataclass
class KernelPool:
    """Kernels warmed ahead, one per phase name; a kernel not taken is shut down on close."""

    lane: BackgroundLane
    _ahead: dict[str, Future[WarmKernel]] = field(default_factory=dict)
    # why a prepared kernel was not handed out (papermill then starts its own): for diagnosis
    missed: dict[str, str] = field(default_factory=dict)

    def prepare(self, name: str, recipe: KernelRecipe) -> None:
        """Start warming a kernel for phase `name` in the background (once)."""
        if name not in self._ahead:
            self._ahead[name] = self.lane.submit(start_warm_kernel, recipe)

    def take(self, name: str, timeout_s: float) -> WarmKernel | None:
        """The warmed kernel for `name`, or None (not prepared, failed, or not ready in time:
        the caller then lets papermill start its own)."""
        future = self._ahead.pop(name, None)
        if future is None:
            return None
        try:
            return future.result(timeout=timeout_s)
        except BaseException as exc:  # noqa: BLE001 - papermill's own start reports a real one
            self.missed[name] = f"{type(exc).__name__}: {exc}" or "not ready in time"
            future.add_done_callback(_close_when_done)
            return None

    def discard(self, name: str) -> None:
        """Shut down the kernel prepared for a phase that will not run."""
        future = self._ahead.pop(name, None)
        if future is not None:
            future.add_done_callback(_close_when_done)

    def close(self) -> None:
        for name in list(self._ahead):
            self.discard(name)


def _close_when_done(future: Future[WarmKernel]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()
