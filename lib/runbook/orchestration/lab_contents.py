"""The contents manager of `runbook lab`'s JupyterLab: a finished run is sealed.

Once `runbook finish` has written `manifest.json`, the notebooks are evidence whose hashes the
manifest and the chain hold; a later save (an autosave after the finish cell ran, a stray
Ctrl+S) would break `runbook verify`. Saving, renaming or deleting under a finished run is
refused with a message saying why; everything else is JupyterLab's own file manager.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError

SEALED = (
    "this run is finished (runbook finish wrote its manifest.json): its notebooks are evidence "
    "and can no longer be changed; start a new run with `runbook lab`"
)


class SealedContentsManager(AsyncLargeFileManager):
    """JupyterLab's file manager, refusing changes once the run's manifest exists."""

    def _refuse_when_sealed(self) -> None:
        if (Path(self.root_dir) / "manifest.json").is_file():
            raise HTTPError(409, SEALED)

    async def save(self, model: dict[str, Any], path: str = "") -> Any:
        self._refuse_when_sealed()
        return await super().save(model, path)

    async def delete_file(self, path: str) -> Any:
        self._refuse_when_sealed()
        return await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> Any:
        self._refuse_when_sealed()
        return await super().rename_file(old_path, new_path)
