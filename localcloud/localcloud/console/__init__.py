"""The console at /_localcloud/: the stack's functions and triggers, recent invocations, dead-letter queues
with a redrive, and a stream browser that tells the story of one id across every event log.

Static files (index.html, console.js, console.css) beside this module, no build step; the page polls the JSON
API below every second.
"""

from localcloud.console.api import ConsoleApi

__all__ = ["ConsoleApi"]
