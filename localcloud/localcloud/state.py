"""The state folder: moto's data (tables, streams, queues, parameters, topics, rules) and each trigger's
position, saved on stop and every few seconds while things change, and resumed on the next start.

moto keeps its state in its backends' Python objects; they are pickled together (one pickle, so objects
shared between services stay shared). The few things in them that cannot be pickled as they are (locks, a
defaultdict with a lambda factory) are pickled as fresh equivalents.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["AutoSave", "StateFolder"]

SERVICES = ("cloudformation", "dynamodb", "dynamodbstreams", "kinesis", "sqs", "ssm", "sns", "events", "logs")
STATE_VERSION = 1
_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


def _nested_defaultdict(items: dict[Any, Any]) -> defaultdict[Any, Any]:
    restored: defaultdict[Any, Any] = defaultdict(lambda: defaultdict(dict))
    restored.update(items)
    return restored


def _defaultdict_subclass(
    cls: type[defaultdict[Any, Any]], factory: Any, attributes: dict[str, Any], items: dict[Any, Any]
) -> Any:
    """A defaultdict subclass whose __init__ takes other arguments (moto's ParameterDict), rebuilt."""
    restored = cls.__new__(cls)
    defaultdict.__init__(restored, factory)
    restored.__dict__.update(attributes)
    restored.update(items)
    return restored


class _StatePickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _RLOCK):
            return (threading.RLock, ())
        if isinstance(obj, _LOCK):
            return (threading.Lock, ())
        if isinstance(obj, defaultdict) and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            return (_nested_defaultdict, (dict(obj),))
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:
            return (_defaultdict_subclass, (type(obj), obj.default_factory, dict(obj.__dict__), dict(obj)))
        return NotImplemented


class StateFolder:
    """`.localcloud/` (or any folder): what a `make run` resumes from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.moto_file = path / "moto.pickle"
        self.positions_file = path / "positions.json"
        self.signing_key_file = path / "signing-key.pem"
        self.function_logs_file = path / "functions.log"

    def prepare(self, fresh: bool) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        gitignore = self.path / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")
        if fresh:
            for file in (self.moto_file, self.positions_file):
                file.unlink(missing_ok=True)

    @property
    def has_state(self) -> bool:
        return self.moto_file.exists()

    def restore(self, region: str) -> dict[str, str]:
        """Put the saved backends into moto; the saved trigger positions (empty if none)."""
        from moto.backends import get_backend

        with self.moto_file.open("rb") as file:
            saved = pickle.load(file)
        if saved.get("version") != STATE_VERSION or saved.get("region") != region:
            raise ValueError(f"the state in {self.path} is for another version or region; start with --fresh")
        for service, backends in saved["backends"].items():
            live = get_backend(service)
            live.clear()
            live.update(backends)
        if self.positions_file.exists():
            return dict(json.loads(self.positions_file.read_text()))
        return {}

    def save(self, region: str, positions: dict[str, str], lock: threading.Lock) -> None:
        """Write moto's backends (under the moto server's lock, so nothing changes halfway) and positions."""
        from moto.backends import get_backend

        buffer = io.BytesIO()
        with lock:
            backends = {service: dict(get_backend(service)) for service in SERVICES}  # type: ignore[call-overload]
            _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
                {"version": STATE_VERSION, "region": region, "backends": backends}
            )
        self._write(self.moto_file, buffer.getvalue())
        self._write(self.positions_file, json.dumps(positions, indent=1, sort_keys=True).encode())

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # a crash mid-write leaves the previous state whole


class AutoSave(threading.Thread):
    """Saves every `interval` seconds while writes happen, so a killed `make run` loses little."""

    def __init__(self, save: Callable[[], None], changes: Callable[[], int], interval: float = 5.0) -> None:
        super().__init__(name="autosave", daemon=True)
        self._save = save
        self._changes = changes
        self._interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        seen = self._changes()
        while not self._stopping.wait(self._interval):
            now = self._changes()
            if now != seen:
                seen = now
                with contextlib.suppress(Exception):
                    self._save()

    def stop(self) -> None:
        self._stopping.set()
