"""The Lambda-like context object a handler receives in a worker."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["LambdaContext"]


@dataclass
class LambdaContext:
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_epoch: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_epoch - time.time()) * 1000))
