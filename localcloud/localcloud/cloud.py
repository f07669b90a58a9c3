"""LocalCloud: the whole SAM template running on this machine, against moto, without Docker.

with LocalCloud("template.yaml", port=0, moto_port=0) as cloud:
    requests.post(f"{cloud.gateway_url}/orders", headers={"Authorization": f"Bearer {cloud.token('alice')}"})
    cloud.wait_until_idle()

The parts, each in a module of its own: the stack (`stack.py`: the translated template, its data resources
in moto, every intrinsic resolved), the functions (`functions.py`, `workers.py`), the HTTP routes and their
gateway (`routes.py`, `gateway.py`, `apigateway.py`), the triggers (`triggers.py` for event source mappings,
`async_sources.py` for SNS, EventBridge and schedules, `pollers/`, `schedules.py`), the state folder
(`state.py`), the tokens (`tokens.py`), the control paths and the console (`control.py`, `console/`). This
class puts them together and in order.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import boto3
from botocore.config import Config

from localcloud.apidocs import document_beside
from localcloud.async_sources import AsyncSources, plan_deliveries, route_deliveries_through_queues
from localcloud.buckets import apply_bucket_notifications
from localcloud.control import Control
from localcloud.deadletters import DeadLetterQueues
from localcloud.firehose import DeliveryStream, delivery_specs
from localcloud.functions import FAKE_CREDENTIALS, Functions, function_specs
from localcloud.gateway import Gateway
from localcloud.motoserver import MotoServer, WriteSignal
from localcloud.output import Reporter
from localcloud.replication import register_replicas, replicate_keys, unregister_region
from localcloud.routes import Authorizer, routes_of
from localcloud.schedules import Scheduler
from localcloud.stack import Stack
from localcloud.state import AutoSave, StateError, StateFolder
from localcloud.template import TemplateError, load_template, parameter_values, region_for
from localcloud.tokens import SigningKey, TokenIssuer
from localcloud.translate import data_resources_template, translate
from localcloud.triggers import Triggers
from localcloud.workers import INIT_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from localcloud.pollers import Poller
    from localcloud.regions import Regions
    from localcloud.workers import Invocation

__all__ = ["LocalCloud", "StartError"]


class StartError(Exception):
    """The local cloud could not start: a function cannot finish its init phase, say."""


class LocalCloud:
    """Start with `start()` or a `with` block; `stop()` ends triggers, workers and servers.

    A library cloud starts empty and keeps nothing; with `state_dir` it resumes what was saved there (unless
    `fresh`) and saves on stop. `output` takes the one-line-per-invocation report; `function_logs`, when
    given, takes what the functions themselves print, which otherwise goes to the state folder's log or, with
    none, to this process's standard error (never its standard output: `invoke` keeps that for the answer).
    """

    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        port: int = 3000,
        moto_port: int = 4566,
        host: str = "127.0.0.1",
        parameter_overrides: dict[str, str] | None = None,
        pollers: bool = True,
        gateway: bool = True,
        prewarm: bool = True,
        poll_interval: float = 0.5,
        max_workers_per_function: int = 2,
        output: TextIO | None = None,
        function_logs: Path | None = None,
        state_dir: Path | None = None,
        fresh: bool = False,
        verbose: bool = False,
        region: str | None = None,
        moto: MotoServer | None = None,
        signing_key: SigningKey | None = None,
    ) -> None:
        self.template_path = Path(template).resolve()
        self.region = region or region_for(self.template_path)
        self.reporter = Reporter(output or sys.stdout, verbose=verbose)
        self.state = StateFolder(Path(state_dir)) if state_dir is not None else None
        self._fresh = fresh
        self._port, self._moto_port, self._host = port, moto_port, host
        self._overrides = parameter_overrides or {}
        self._with_pollers, self._with_gateway, self._prewarm = pollers, gateway, prewarm
        self._poll_interval = poll_interval
        self._max_workers = max_workers_per_function
        self._function_logs_path = function_logs
        self._function_logs: BinaryIO | None = None
        # A cloud given a running moto server shares it (regions.py: one moto, a cloud per region) and leaves
        # it running when it stops; otherwise it starts and stops its own.
        self._shared_moto = moto
        self._signing_key = signing_key
        self._signal = moto.signal if moto is not None else WriteSignal()
        self.regions: Regions | None = None  # the regions this cloud is one of (regions.py), if any
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._ready = threading.Event()
        self._autosave: AutoSave | None = None
        self.moto: MotoServer | None = None
        self.gateway: Gateway | None = None
        self.scheduler: Scheduler | None = None
        self.pollers: list[Poller] = []
        self.delivery_streams: list[DeliveryStream] = []
        self.skipped: list[str] = []
        self._loaded = False

    # ----- public API -----

    @property
    def endpoint_url(self) -> str:
        assert self.moto is not None, "start the local cloud first"
        return self.moto.endpoint_url

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "the gateway is not running"
        return self.gateway.url

    @property
    def writes(self) -> WriteSignal:
        """Write counters per table, stream and queue: `writes.wait(name, seen, timeout)` returns as soon as
        `name` is written, which watching a table needs instead of polling it."""
        return self._signal

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def physical_id(self, logical_id: str) -> str:
        """A resource's Ref value: table or stream name, queue URL, function name, ..."""
        return str(self.stack.resolver.resolve({"Ref": logical_id}))

    def function_name(self, logical_id: str) -> str:
        """A function's name, as the template gives it (FunctionName) or its logical id."""
        return self.stack.function_name(logical_id)

    def attribute(self, logical_id: str, name: str) -> Any:
        return self.stack.resolver.resolve({"Fn::GetAtt": [logical_id, name]})

    def client(self, service: str) -> Any:
        """A boto3 client for the local moto server (one per service; boto3 clients are thread-safe), served
        in this process without HTTP."""
        assert self.moto is not None, "start the local cloud first"
        with self._clients_lock:
            if service not in self._clients:
                make_client: Any = boto3.client  # the service is known only at run time
                self._clients[service] = self.moto.connect(
                    make_client(
                        service,
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                        config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
                    )
                )
            return self._clients[service]

    def token(
        self,
        subject: str,
        scopes: list[str] | None = None,
        audience: str | None = None,
        lifetime: int | None = None,
        authorizer: str | None = None,
    ) -> str:
        """An RS256 token with sub=subject that the template's (first, or named) JWT or Cognito authorizer
        accepts; another `audience` for a token it must refuse."""
        chosen = self.authorizer(authorizer)
        extra: dict[str, Any] = {}
        if chosen.kind == "cognito":
            extra = {"token_use": "access" if scopes else "id", "cognito:username": subject}
        options: dict[str, Any] = {} if lifetime is None else {"lifetime": lifetime}
        return self.issuer.mint(
            subject,
            chosen.issuers[0],
            audience or (chosen.audiences[0] if chosen.audiences else None),
            scopes=scopes,
            extra=extra,
            **options,
        )

    def authorizer(self, name: str | None = None) -> Authorizer:
        """The template's token authorizers (JWT first, then Cognito); the first, or the one named."""
        token_authorizers = sorted(
            {route.authorizer for route in self.routes if route.authorizer and route.authorizer.issuers},
            key=lambda a: (a.kind != "jwt", a.name),
        )
        for candidate in token_authorizers:
            if name in (None, candidate.name):
                return candidate
        raise TemplateError(
            "the template has no JWT or Cognito authorizer; no token is needed"
            if name is None
            else f"no JWT or Cognito authorizer named {name}"
        )

    def token_settings(self) -> tuple[str, str | None]:
        """(issuer, audience) of the first token authorizer."""
        chosen = self.authorizer()
        return chosen.issuers[0], chosen.audiences[0] if chosen.audiences else None

    def invoke(self, function: str, event: Any) -> Invocation:
        """One invocation, by logical id or function name, reported like any other."""
        invocation = self.functions.invoke(function, event)
        self.reporter.invocation(invocation)
        return invocation

    @property
    def invocations(self) -> list[Invocation]:
        return list(self.reporter.history)

    def flush_delivery_streams(self) -> int:
        """Every Firehose delivery stream reads what its Kinesis stream holds and delivers every buffer
        now, as if each buffer's interval had run out (firehose.py): the number of objects written."""
        return sum(stream.flush() for stream in self.delivery_streams)

    def wait_until_idle(self, timeout: float = 30.0, settle: float = 0.3) -> None:
        """Return once every poller (and delivery stream: read to the end of its source, whatever it holds in
        its buffers) has found nothing to do for `settle` seconds; raise at the deadline."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if all(poller.idle for poller in self.pollers) and all(s.idle for s in self.delivery_streams):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.02)
        busy = [poller.name for poller in self.pollers if not poller.idle]
        busy += [stream.spec.logical_id for stream in self.delivery_streams if not stream.idle]
        raise TimeoutError(f"pollers and delivery streams still busy after {timeout} s: {busy}")

    # ----- lifecycle -----

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def load(self) -> None:
        """Read and translate the template: functions, routes, authorizers; no server yet (enough for
        `token`)."""
        if self._loaded:
            return
        template = load_template(self.template_path)
        parameters = parameter_values(template, self.template_path, self._overrides, self.region)
        translation = translate(template, parameters, self.template_path.parent)
        self.stack = Stack(translation, parameters, self.region)
        self.specs, self.skipped = function_specs(self.stack)
        self.routes = routes_of(self.stack)
        key_file = self.state.signing_key_file if self.state else None
        self.issuer = TokenIssuer(self._signing_key or SigningKey.load_or_create(key_file))
        self._loaded = True

    def start(self) -> None:
        """Returns once every function can serve (its first worker past the init phase)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        if self.state is not None:
            self.state.prepare(self._fresh)
        self.load()
        if self._shared_moto is not None:
            self.moto = self._shared_moto
        else:
            self.moto = MotoServer(self._host, self._moto_port, self._signal)
            self.moto.start()
        self._create_stack()
        # Again, now that the data resources have their physical names: environments and routes refer to them.
        self.specs, self.skipped = function_specs(self.stack)
        self.routes = routes_of(self.stack)
        logs = self._function_logs_path or (self.state.function_logs_file if self.state else None)
        if logs is not None:
            self._function_logs = open(logs, "ab")  # noqa: SIM115 - closed in stop()
        self.functions = Functions(
            self.specs, self.endpoint_url, self.region, self._max_workers, self._function_logs
        )
        self.functions.start(self._prewarm)
        if self._with_gateway:
            self.gateway = Gateway(
                self.routes,
                self.functions.by_arn,
                self.issuer,
                self.region,
                self.reporter.invocation,
                self.reporter.refusal,
                Control(self).handle,
                self._host,
                self._port,
                api_document=document_beside(self.template_path),
            )
            self.gateway.start()
        triggers = Triggers(
            self.stack,
            self.functions,
            self.client,
            self._signal,
            self.reporter.invocation,
            self.reporter.say,
            self._poll_interval,
        )
        async_sources = AsyncSources(self.stack, triggers, self._deliveries)
        destinations = self._destination_arns()
        self.dead_letters = DeadLetterQueues(self.stack, self.client, destinations)
        if self._with_pollers:
            self.pollers = triggers.mapping_pollers(self._positions) + async_sources.delivery_pollers()
            self.delivery_streams = [
                DeliveryStream(spec, self.client, self._signal, self.reporter.say, self._positions)
                for spec in delivery_specs(self.stack)
            ]
            self.scheduler = Scheduler(async_sources.schedules(), self.reporter.say)
        if self._prewarm:
            try:
                self.functions.wait_ready(INIT_TIMEOUT_SECONDS + 30)
            except Exception as exc:
                raise StartError(f"a function cannot start: {exc}") from exc
        for poller in self.pollers:
            poller.start()
        for stream in self.delivery_streams:
            stream.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.state is not None:
            self._autosave = AutoSave(self.save, lambda: self._signal.total, self.reporter.say)
            self._autosave.start()
        self._ready.set()

    def _create_stack(self) -> None:
        assert self.moto is not None
        self._deliveries = plan_deliveries(self.stack)
        with self.moto.lock:
            self.stack.made = replicate_keys(self.stack)
        moto_template = data_resources_template(
            self.stack.translation.cfn, self.stack.resolver.parameters, self.stack.made
        )
        route_deliveries_through_queues(moto_template, self._deliveries)
        cloudformation = self.client("cloudformation")
        self._positions: dict[str, str] = {}
        if self.state is not None and self.state.has_state:
            try:
                self._positions = self.state.restore(self.region)
            except Exception as exc:
                raise StartError(f"cannot resume {self.state.path}: {exc}; start with --fresh") from exc
            self.stack.update(cloudformation, moto_template)
            self.reporter.say(f"localcloud: resumed the state in {self.state.path}")
        else:
            self.stack.create(cloudformation, moto_template)
        with self.moto.lock:
            register_replicas(self.stack)
        apply_bucket_notifications(self.stack, self.client, self.reporter.say)

    def _destination_arns(self) -> list[str]:
        arns = [spec.dead_letter_arn for spec in self.specs.values() if spec.dead_letter_arn]
        for kind in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            for logical_id in self.stack.of_type(kind):
                destination = (
                    self.stack.properties(logical_id).get("DestinationConfig", {}).get("OnFailure", {})
                )
                if destination.get("Destination"):
                    arns.append(str(destination["Destination"]))
        return arns

    def positions(self) -> dict[str, str]:
        """Where each stream trigger resumes: the last record it is done with, by mapping and shard."""
        positions = {
            poller.key: str(checkpoint)
            for poller in self.pollers
            if (checkpoint := getattr(poller, "checkpoint", None)) is not None
        }
        for stream in self.delivery_streams:
            positions.update(stream.positions())
        return positions

    def save(self) -> None:
        """Save moto's state and the trigger positions in the state folder (StateError if it cannot: the
        previous state is then kept whole)."""
        if self.state is not None and self.moto is not None:
            self.state.save(self.region, self.positions(), self.moto.lock)

    def stop(self) -> None:
        """Stop everything; with a state folder, save first. A save that fails does not stop the rest from
        stopping: the StateError is raised once everything has stopped."""
        self._ready.clear()
        save_failure: StateError | None = None
        if self._autosave is not None:
            self._autosave.stop()
        self._stop_serving()
        if self.state is not None and self.moto is not None and self._autosave is not None:
            try:
                self.save()  # after the triggers stopped: their positions and moto's state agree
            except StateError as exc:
                save_failure = exc
                self.reporter.say(f"localcloud: could not save the state: {exc}")
        if hasattr(self, "functions"):
            self.functions.stop()
        if self._function_logs is not None:
            self._function_logs.close()
            self._function_logs = None
        if self.moto is not None and self._shared_moto is None:
            self.moto.stop()
            self._reset_moto()
        self.moto = None
        self.gateway = None
        self.pollers = []
        self.delivery_streams = []
        if save_failure is not None:
            raise save_failure

    def _stop_serving(self) -> None:
        """The gateway, schedules, triggers and delivery streams stopped (a batch in progress finishes)."""
        if self.gateway is not None:
            self.gateway.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        for stream in self.delivery_streams:
            stream.stop()
        for poller in self.pollers:
            if poller.is_alive():
                poller.join(timeout=INIT_TIMEOUT_SECONDS)
        for stream in self.delivery_streams:
            if stream.is_alive():
                stream.join(timeout=INIT_TIMEOUT_SECONDS)

    def cut(self) -> None:
        """An outage of this cloud's region (regions.py): its gateway stops answering, its functions,
        triggers, delivery streams and schedules stop, its queues lose every message, and its replicas of
        global tables can no longer be reached there. moto keeps serving the other regions, which keep every
        acknowledged write. A cut region stays cut: stop() still ends it."""
        assert self._shared_moto is not None, "only a region of several (regions.py) can be cut"
        self._ready.clear()
        self._stop_serving()
        if hasattr(self, "functions"):
            self.functions.stop()
        sqs = self.client("sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            sqs.purge_queue(QueueUrl=url)
        assert self.moto is not None
        with self.moto.lock:
            unregister_region(self.region)
        self.scheduler = None
        self.pollers = []
        self.delivery_streams = []
        self.reporter.say(f"localcloud: region {self.region} is cut")

    @staticmethod
    def _reset_moto() -> None:
        """moto's state is per process: clear it so that another LocalCloud here starts empty."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    # ----- what it tells -----

    def health(self) -> dict[str, Any]:
        return Control(self).health()

    def banner(self) -> str:
        return Control(self).banner()
