"""Prints, logs and emits a metric on every invocation (and prints during init), then answers with JSON: what
`localcloud invoke` must keep off its standard output, all but the answer."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("chatty")
print("chatty: init done")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = event.get("name", "nobody")
    for line in range(int(event.get("lines", 1))):
        print(f"print line {line} for {name}")
    logger.info("logging line for %s", name)
    # What Powertools' Logger and Metrics write: one JSON document a line, on standard output.
    print(json.dumps({"level": "INFO", "message": "structured line", "correlation_id": f"c-{name}"}))
    emf = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{"Namespace": "Chatty"}]}}
    print(json.dumps({**emf, "Greetings": [1.0]}))
    print("a line on stderr", file=sys.stderr)
    return {"greeting": f"hello {name}", "lines": event.get("lines", 1)}
