"""The rollback tests reuse the deploy tests' constants and builders (deploy_support)."""

from __future__ import annotations

import sys
from pathlib import Path

DEPLOY_TESTS = Path(__file__).resolve().parents[1] / "deploy"
if str(DEPLOY_TESTS) not in sys.path:
    sys.path.insert(0, str(DEPLOY_TESTS))
