"""Answers with the environment the parent gave it from the nested application's outputs."""

from __future__ import annotations

import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return {name: os.environ[name] for name in ("AUDIT_QUEUE_URL", "DASHBOARD", "OPERATIONS_STACK")}
