"""localcloud: run a SAM template's functions, HTTP API and stream/queue triggers on this machine, on moto.

A development tool, never deployed. Generic: it knows the shape of SAM templates, nothing of the project.
The public names load lazily, so that a function's worker process (`localcloud.worker_main`) does not pay
for importing moto and the SAM translator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud, StartError
    from localcloud.regions import Regions
    from localcloud.template import TemplateError
    from localcloud.workers import Invocation

__all__ = ["Invocation", "LocalCloud", "Regions", "StartError", "TemplateError"]

_HOMES = {
    "LocalCloud": "localcloud.cloud",
    "Regions": "localcloud.regions",
    "StartError": "localcloud.cloud",
    "TemplateError": "localcloud.template",
    "Invocation": "localcloud.workers",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'localcloud' has no attribute {name!r}")
