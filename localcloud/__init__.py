"""localcloud: run a SAM template's functions, HTTP API and stream/queue triggers on this machine, on moto.

A development tool, never deployed. Generic: it knows the shape of SAM templates, nothing of the project.
"""

from localcloud.cloud import LocalCloud
from localcloud.template import TemplateError
from localcloud.workers import Invocation

__all__ = ["Invocation", "LocalCloud", "TemplateError"]
