"""One template in several regions of one local cloud: a primary and its standby, say, each a LocalCloud of
its own (its gateway on its own port, its functions with their region's `AWS_REGION`, its queues, streams,
schedules and tables), all on one moto server, where the global tables and replica keys are shared across the
regions they name (replication.py).

with Regions("template.yaml", ["eu-west-1", "eu-central-1"], overrides=for_region) as regions:
    regions["eu-west-1"].gateway_url
    regions.cut("eu-west-1")        # an outage: its gateway, functions and queue contents gone

`overrides(region, regions)` gives each region its parameter overrides when its turn to start comes; the
regions start in the order given, so a later region's parameters can be read from an earlier one's stack
(its stream ARNs, its key's ARN), as an operator reads them from the primary before deploying the standby.
The regions share one token signing key (`signing_key`, else a new one): a token is valid in every region, as
one identity provider's is, when the regions trust one issuer.

No state folder: a library's regions start empty and keep nothing (`localcloud run` keeps one region's).
"""

from __future__ import annotations

import io
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from localcloud.cloud import LocalCloud
from localcloud.motoserver import MotoServer
from localcloud.tokens import SigningKey

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

__all__ = ["Regions"]


class _Labelled(io.TextIOBase):
    """A region's report lines, each with its region in front, into one shared stream."""

    def __init__(self, stream: TextIO, label: str, lock: threading.Lock) -> None:
        self._stream, self._label, self._lock = stream, label, lock
        self._line_start = True

    def write(self, text: str) -> int:
        with self._lock:
            for part in text.splitlines(keepends=True):
                if self._line_start:
                    self._stream.write(self._label)
                self._stream.write(part)
                self._line_start = part.endswith("\n")
            return len(text)

    def flush(self) -> None:
        self._stream.flush()


class Regions:
    """Regions of one template on one moto server; `start()` starts them in order, `stop()` ends them all."""

    def __init__(
        self,
        template: str | Path,
        regions: Sequence[str],
        *,
        overrides: Callable[[str, Regions], dict[str, str]] | None = None,
        ports: Sequence[int] | None = None,
        moto_port: int = 4566,
        host: str = "127.0.0.1",
        output: TextIO | None = None,
        function_logs: Path | None = None,
        signing_key: SigningKey | None = None,
        **options: Any,
    ) -> None:
        if len(set(regions)) != len(regions) or not regions:
            raise ValueError(f"regions must be distinct and at least one: {list(regions)}")
        if ports is not None and len(ports) != len(regions):
            raise ValueError("one port per region")
        self.template = template
        self.names = list(regions)
        self._overrides = overrides or (lambda region, regions: {})
        self._ports = list(ports) if ports is not None else [0] * len(regions)
        self._moto_port, self._host = moto_port, host
        self._output = output or sys.stdout
        self._output_lock = threading.Lock()
        self._function_logs = function_logs  # a folder: one <region>.log each
        self._options = options
        self._key = signing_key or SigningKey.load_or_create(None)
        self._lock = threading.Lock()
        self.clouds: dict[str, LocalCloud] = {}
        self.cut_regions: set[str] = set()
        self.moto: MotoServer | None = None

    def __getitem__(self, region: str) -> LocalCloud:
        return self.clouds[region]

    def __enter__(self) -> Regions:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self.moto is not None, "start the regions first"
        return self.moto.endpoint_url

    def start(self) -> None:
        try:
            self.moto = MotoServer(self._host, self._moto_port)
            self.moto.start()
            for region, port in zip(self.names, self._ports, strict=True):
                cloud = LocalCloud(
                    self.template,
                    region=region,
                    port=port,
                    host=self._host,
                    moto=self.moto,
                    signing_key=self._key,
                    parameter_overrides=self._overrides(region, self),
                    output=_Labelled(self._output, f"[{region}] ", self._output_lock),  # type: ignore[arg-type]
                    function_logs=self._function_logs / f"{region}.log" if self._function_logs else None,
                    **self._options,
                )
                cloud.regions = self
                self.clouds[region] = cloud
                cloud.start()
        except BaseException:
            self.stop()
            raise

    def cut(self, region: str) -> None:
        """An outage of `region` (LocalCloud.cut); the others run on."""
        with self._lock:
            if region in self.cut_regions:
                return
            self.clouds[region].cut()
            self.cut_regions.add(region)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "region": region,
                "gateway": cloud.gateway.url if cloud.gateway else None,
                "state": "cut" if region in self.cut_regions else ("ready" if cloud.ready else "starting"),
            }
            for region, cloud in self.clouds.items()
        ]

    def stop(self) -> None:
        """Every region stopped (a cut in progress finishes first), then moto, whatever fails on the way."""
        failures: list[Exception] = []
        with self._lock:
            try:
                for cloud in reversed(list(self.clouds.values())):
                    try:
                        cloud.stop()
                    except Exception as exc:  # the other regions and moto are stopped all the same
                        failures.append(exc)
            finally:
                if self.moto is not None:
                    self.moto.stop()
                    LocalCloud._reset_moto()
                    self.moto = None
        if failures:
            raise failures[0]
