"""The state folder: everything the template created in moto (tables and their streams, Kinesis streams,
queues with their in-flight messages and receive counts, parameters, KMS keys, buckets, topics, rules,
dashboards, the stack) and each stream trigger's position, saved on stop and every few seconds while things
change, and resumed on the next start.

moto keeps its state in its backends' Python objects. Every backend in use is pickled, all in one pickle, so
that objects shared between services stay shared (the stack's resource map holds the very key KMS serves).
The few things in them that cannot be pickled as they are get a stand-in: locks become fresh locks, a
defaultdict with a lambda factory a plain nested one, and `cryptography`'s key objects (the private key moto
makes for every KMS key, even a symmetric one) their PEM. A symmetric key's material is plain bytes and is
kept as it is: what was encrypted before a restart decrypts after it.

The trigger positions go in the same pickle as the data, so that the two always agree. A save is atomic: it
is written to a temporary file in the state folder, flushed to the disk, and renamed over the previous one;
a save that fails or is cut short leaves the previous state whole.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["AutoSave", "StateError", "StateFolder", "write_atomically"]

STATE_VERSION = 2
# moto's own control backend (recorder, state transitions): the local cloud's, not the template's.
NOT_SAVED = frozenset({"moto_api"})
CHUNK_BYTES = 1 << 20
_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())
_PRIVATE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
    x25519.X25519PrivateKey,
    x448.X448PrivateKey,
)
_PUBLIC_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
    x25519.X25519PublicKey,
    x448.X448PublicKey,
)


class StateError(Exception):
    """The state could not be saved or resumed; the message says why and what to do."""


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


def _private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


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
        if isinstance(obj, _PRIVATE_KEYS):
            pem = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return (_private_key, (pem,))
        if isinstance(obj, _PUBLIC_KEYS):
            info = serialization.PublicFormat.SubjectPublicKeyInfo
            return (_public_key, (obj.public_bytes(serialization.Encoding.PEM, info),))
        return NotImplemented


def _backends_in_use() -> dict[str, Any]:
    """moto's backends that hold something (moto lists every one a request has touched), by a key that finds
    the same backend in another process: the module of its model and its service name."""
    from moto.core.base_backend import BackendDict

    in_use = {}
    for backends in list(BackendDict._instances):  # type: ignore[misc]  # moto's registry of backends in use
        if backends.service_name in NOT_SAVED or not len(backends):
            continue
        in_use[f"{backends.backend.__module__}:{backends.service_name}"] = backends
    return in_use


def _live_backends(key: str) -> Any:
    """The backends a saved key names, in this process (importing its module if need be)."""
    from moto.core.base_backend import BackendDict

    module_name, _, service_name = key.partition(":")
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, BackendDict) and value.service_name == service_name:
            return value
    raise StateError(f"this moto has no {service_name} backend in {module_name}")


def write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` so that a reader finds either the previous file or the whole new one: a
    temporary file in the same folder, flushed to the disk, renamed over `path`, and the folder flushed."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        with open(temporary, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself reaches the disk
    finally:
        os.close(folder)


def _chunks(data: bytes) -> Iterable[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


class StateFolder:
    """`.localcloud/` (or any folder): what a `make run` resumes from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_file = path / "state.pickle"
        self.legacy_files = (path / "moto.pickle", path / "positions.json")  # version 1's
        self.signing_key_file = path / "signing-key.pem"
        self.function_logs_file = path / "functions.log"

    def prepare(self, fresh: bool) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        gitignore = self.path / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")
        if fresh:
            for file in (self.state_file, *self.legacy_files):
                file.unlink(missing_ok=True)

    @property
    def has_state(self) -> bool:
        return self.state_file.exists() or self.legacy_files[0].exists()

    def restore(self, region: str) -> dict[str, str]:
        """Put the saved backends into moto; the saved trigger positions (empty if none)."""
        from moto.core.base_backend import BackendDict

        saved, positions = self._load()
        if saved.get("region") != region:
            raise StateError(f"the state in {self.path} is for {saved.get('region')}, not {region}")
        for key, backends in saved["backends"].items():
            live = _live_backends(key)
            live.clear()
            live.update(backends)
            if live not in BackendDict._instances:  # type: ignore[misc]
                BackendDict._instances.append(live)  # type: ignore[misc]  # so that moto's reset clears it
        return positions

    def _load(self) -> tuple[dict[str, Any], dict[str, str]]:
        if not self.state_file.exists():
            # Version 1 kept moto's backends in moto.pickle and the positions in positions.json.
            raise StateError(f"the state in {self.path} was saved by an earlier version of the local cloud")
        with self.state_file.open("rb") as file:
            saved = pickle.load(file)
        if saved.get("version") != STATE_VERSION:
            raise StateError(f"the state in {self.path} is of another version of the local cloud")
        return saved, dict(saved.get("positions", {}))

    def save(self, region: str, positions: dict[str, str], lock: threading.Lock) -> None:
        """Write moto's backends (under the moto server's lock, so nothing changes halfway) and the trigger
        positions, which the caller read before: positions never run ahead of the data."""
        buffer = io.BytesIO()
        with lock:
            state = {
                "version": STATE_VERSION,
                "region": region,
                "positions": positions,
                "backends": {key: dict(backends) for key, backends in _backends_in_use().items()},
            }
            try:
                _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
            except (TypeError, AttributeError, pickle.PicklingError) as exc:
                raise StateError(f"moto's state cannot be saved: {exc}") from exc
        try:
            write_atomically(self.state_file, _chunks(buffer.getvalue()))
        except OSError as exc:
            raise StateError(f"cannot write {self.state_file}: {exc}; the previous state is kept") from exc


class AutoSave(threading.Thread):
    """Saves every `interval` seconds while writes happen, so a killed `make run` loses little. A failure is
    told once (and again only when it changes), not every few seconds."""

    def __init__(
        self,
        save: Callable[[], None],
        changes: Callable[[], int],
        say: Callable[[str], None],
        interval: float = 5.0,
    ) -> None:
        super().__init__(name="autosave", daemon=True)
        self._save = save
        self._changes = changes
        self._say = say
        self._interval = interval
        self._stopping = threading.Event()
        self._last_error = ""

    def run(self) -> None:
        seen = self._changes()
        while not self._stopping.wait(self._interval):
            now = self._changes()
            if now == seen:
                continue
            seen = now
            try:
                self._save()
            except Exception as exc:
                if str(exc) != self._last_error:
                    self._last_error = str(exc)
                    with contextlib.suppress(Exception):
                        self._say(f"localcloud: could not save the state: {exc}")
            else:
                self._last_error = ""

    def stop(self) -> None:
        self._stopping.set()
