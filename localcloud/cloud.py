"""LocalCloud: the whole SAM template running on this machine, against moto, without Docker.

with LocalCloud("template.yaml", port=0, moto_port=0) as cloud:
    requests.post(f"{cloud.gateway_url}/orders", headers={"Authorization": f"Bearer {cloud.token('alice')}"})
    cloud.wait_until_idle()
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import boto3
from botocore.config import Config
from werkzeug.wrappers import Response

from localcloud.filters import RecordFilter
from localcloud.gateway import Authorizer, Gateway, Route
from localcloud.intrinsics import Resolver
from localcloud.motoserver import MotoServer, WriteSignal, resource_name
from localcloud.output import Reporter
from localcloud.pollers import DynamoDBStreamPoller, KinesisPoller, Poller, PollerContext, SQSPoller
from localcloud.pollers.streams import StreamSettings
from localcloud.stack import Stack
from localcloud.template import (
    ACCOUNT_ID,
    REGION,
    FunctionSpec,
    TemplateError,
    function_specs,
    load_template,
    parameter_values,
)
from localcloud.tokens import mint_token
from localcloud.translate import data_resources_template, translate
from localcloud.workers import FunctionRuntime, close_all

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.workers import Invocation

__all__ = ["LocalCloud"]

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_SESSION_TOKEN": "localcloud",
}


class LocalCloud:
    """Start with `start()` or a `with` block; `stop()` ends pollers, workers and servers."""

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
        poll_interval: float = 0.2,
        max_workers_per_function: int = 2,
        output: TextIO | None = None,
        function_logs: Path | None = None,
    ) -> None:
        """`output` takes the one-line-per-invocation report; `function_logs`, when given, takes what the
        functions themselves print (their logs), which otherwise shares this process's terminal."""
        self.template_path = Path(template).resolve()
        self.region = REGION
        self.reporter = Reporter(output or sys.stdout)
        self._port, self._moto_port, self._host = port, moto_port, host
        self._overrides = parameter_overrides or {}
        self._with_pollers, self._with_gateway, self._prewarm = pollers, gateway, prewarm
        self._poll_interval = poll_interval
        self._max_workers = max_workers_per_function
        self._function_logs_path = function_logs
        self._function_logs: BinaryIO | None = None
        self._signal = WriteSignal()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.moto: MotoServer | None = None
        self.gateway: Gateway | None = None
        self.functions: dict[str, FunctionRuntime] = {}
        self.specs: dict[str, FunctionSpec] = {}
        self.pollers: list[Poller] = []
        self.stack: Stack | None = None

    # ----- public API -----

    @property
    def endpoint_url(self) -> str:
        assert self.moto is not None, "start the local cloud first"
        return self.moto.endpoint_url

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "the gateway is not running"
        return self.gateway.url

    def physical_id(self, logical_id: str) -> str:
        """A resource's Ref value: table or stream name, queue URL, function name, ..."""
        return str(self.resolver.resolve({"Ref": logical_id}))

    def attribute(self, logical_id: str, name: str) -> Any:
        return self.resolver.resolve({"Fn::GetAtt": [logical_id, name]})

    def client(self, service: str) -> Any:
        """A boto3 client for the local moto server (one per service; boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2}),
                )
            return self._clients[service]

    def token(self, customer: str, scopes: list[str] | None = None) -> str:
        """A dev JWT with sub=customer, accepted by the template's (first) JWT authorizer."""
        return mint_token(customer, *self.token_settings(), scopes=scopes)

    def token_settings(self) -> tuple[str, str]:
        authorizers = self._authorizers()
        if not authorizers:
            raise TemplateError("the template has no JWT authorizer; no token is needed")
        first = next(iter(authorizers.values()))
        return first.issuer, first.audiences[0]

    def invoke(self, function: str, event: Any) -> Invocation:
        """One invocation, by logical id or function name, reported like any other."""
        runtime = self.functions.get(function) or next(
            (rt for rt in self.functions.values() if rt.name == function), None
        )
        if runtime is None:
            raise KeyError(f"no function {function!r}; the template has {sorted(self.functions)}")
        invocation = runtime.invoke(event, "invoke")
        self.reporter.invocation(invocation)
        return invocation

    @property
    def invocations(self) -> list[Invocation]:
        return self.reporter.history

    def wait_until_idle(self, timeout: float = 10.0, settle: float = 0.3) -> None:
        """Return once every poller has found nothing to do for `settle` seconds; raise on timeout."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if all(poller.idle for poller in self.pollers):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.02)
        busy = [poller.name for poller in self.pollers if not poller.idle]
        raise TimeoutError(f"pollers still busy after {timeout} s: {busy}")

    # ----- lifecycle -----

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def load(self) -> None:
        """Read the template, its parameters and functions; no server yet (enough for `token`)."""
        template = load_template(self.template_path)
        self.template = template
        self.parameters = parameter_values(template, self.template_path, self._overrides)
        self.specs = {spec.logical_id: spec for spec in function_specs(template, self.template_path)}
        self.resolver = Resolver(
            self.parameters,
            template.get("Conditions", {}),
            self._ref,
            self._get_att,
            template.get("Mappings"),
        )

    def _start(self) -> None:
        self.load()
        cfn = translate(self.template, self.parameters)
        self.moto = MotoServer(self._host, self._moto_port, self._signal)
        self.moto.start()
        self.stack = Stack(self.client("cloudformation"), data_resources_template(cfn, self.parameters))
        self.stack.create()
        if self._function_logs_path is not None:
            self._function_logs = open(self._function_logs_path, "ab")  # noqa: SIM115 - closed in stop()
        for logical_id, spec in self.specs.items():
            self.functions[logical_id] = FunctionRuntime(
                self._worker_setup(spec),
                spec.timeout,
                max_workers=self._max_workers,
                logs=self._function_logs,
            )
        if self._prewarm:
            for runtime in self.functions.values():
                runtime.prewarm()
        if self._with_gateway:
            self.gateway = Gateway(
                self._routes(), self.reporter.invocation, self._control, self._host, self._port
            )
            self.gateway.start()
        if self._with_pollers:
            self.pollers = self._make_pollers()
            for poller in self.pollers:
                poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        close_all(list(self.functions.values()))
        if self._function_logs is not None:
            self._function_logs.close()
            self._function_logs = None
        if self.moto is not None:
            self.moto.stop()
            self._reset_moto()
            self.moto = None
        self.pollers = []

    @staticmethod
    def _reset_moto() -> None:
        """moto's state is per process: clear it so that another LocalCloud here starts empty."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def banner(self) -> str:
        lines = [f"localcloud: {self.template_path}"]
        if self.gateway is not None:
            lines.append(f"  gateway   {self.gateway_url}")
            for route in self.gateway.routes:
                auth = "jwt" if route.authorizer else "open"
                lines.append(f"            {route.route_key:<36} -> {route.function.name} ({auth})")
        lines.append(f"  moto      {self.endpoint_url}  (AWS_ENDPOINT_URL for your own clients)")
        lines.append(f"  functions {', '.join(sorted(self.functions))}")
        lines.append(f"  triggers  {len(self.pollers)} pollers")
        if self._authorizers():
            lines.append(f"  token     {sys.executable} -m localcloud token --customer alice")
        lines.append("  stop      Ctrl-C")
        return "\n".join(lines)

    # ----- resources -----

    def function_name(self, logical_id: str) -> str:
        name = self.specs[logical_id].properties.get("FunctionName")
        return str(self.resolver.resolve(name)) if name is not None else logical_id

    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name(logical_id)}"

    def _ref(self, logical_id: str) -> Any:
        if self.stack is not None and logical_id in self.stack.physical_ids:
            return self.stack.ref(logical_id)
        if logical_id in self.specs:
            return self.function_name(logical_id)
        resource = self.template["Resources"].get(logical_id)
        if resource is None:
            raise TemplateError(f"Ref to {logical_id}, which is neither a parameter nor a resource")
        # Resources that exist only on AWS (APIs, roles, layers): a stable placeholder is enough locally.
        return f"local-{logical_id}"

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if self.stack is not None and logical_id in self.stack.physical_ids:
            return self.stack.get_att(logical_id, attribute)
        if logical_id in self.specs and attribute == "Arn":
            return self.function_arn(logical_id)
        return f"arn:aws:localcloud:{self.region}:{ACCOUNT_ID}:{logical_id}/{attribute}"

    # ----- functions -----

    def _worker_setup(self, spec: FunctionSpec) -> dict[str, Any]:
        name = self.function_name(spec.logical_id)
        environment = {
            key: _env_text(self.resolver.resolve(value)) for key, value in spec.environment.items()
        }
        environment.update(FAKE_CREDENTIALS)
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "LAMBDA_TASK_ROOT": str(spec.code_path),
                "_HANDLER": spec.handler,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        return {
            "function_name": name,
            "function_arn": self.function_arn(spec.logical_id),
            "memory_size": spec.memory_size,
            "handler": spec.handler,
            "environment": environment,
            "paths": [str(spec.code_path), *(str(path) for path in spec.layer_paths)],
        }

    # ----- HTTP -----

    def _authorizers(self) -> dict[tuple[str, str], Authorizer]:
        """JWT authorizers by (api logical id, authorizer name); the implicit API reads Globals.HttpApi."""
        found = {}
        apis = {
            name: res.get("Properties", {})
            for name, res in self.template["Resources"].items()
            if res.get("Type") == "AWS::Serverless::HttpApi"
        }
        apis.setdefault("ServerlessHttpApi", self.template.get("Globals", {}).get("HttpApi", {}))
        for api, properties in apis.items():
            for name, config in properties.get("Auth", {}).get("Authorizers", {}).items():
                jwt_config = config.get("JwtConfiguration")
                if jwt_config is None:
                    continue
                issuer = self.resolver.resolve(jwt_config.get("issuer") or jwt_config.get("Issuer"))
                audience = self.resolver.resolve(
                    jwt_config.get("audience") or jwt_config.get("Audience") or []
                )
                source = config.get("IdentitySource", "$request.header.Authorization")
                header = source.rsplit(".", 1)[-1].lower()
                found[(api, name)] = Authorizer(name, issuer, list(audience), header)
        return found

    def _routes(self) -> list[Route]:
        authorizers = self._authorizers()
        default_authorizers = {
            name: res.get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
            for name, res in self.template["Resources"].items()
            if res.get("Type") == "AWS::Serverless::HttpApi"
        }
        implicit = self.template.get("Globals", {}).get("HttpApi", {})
        default_authorizers["ServerlessHttpApi"] = implicit.get("Auth", {}).get("DefaultAuthorizer")
        routes = []
        for logical_id, spec in self.specs.items():
            for event in spec.events.values():
                if event.get("Type") != "HttpApi":
                    continue
                properties = event.get("Properties", {})
                api_ref = properties.get("ApiId", {"Ref": "ServerlessHttpApi"})
                api = api_ref.get("Ref") if isinstance(api_ref, dict) else str(api_ref)
                name = properties.get("Auth", {}).get("Authorizer") or default_authorizers.get(api)
                authorizer = None
                if name and name != "NONE":
                    authorizer = authorizers.get((api, name))
                    if authorizer is None:
                        raise TemplateError(
                            f"{logical_id}: authorizer {name} is not a JWT authorizer of {api}"
                        )
                path = properties.get("Path", "$default")
                method = str(properties.get("Method", "ANY")).upper()
                if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                    method = "ANY"
                routes.append(Route(method, path, self.functions[logical_id], f"local-{api}", authorizer))
        return routes

    def _control(self, path: str, request: Request) -> Response | None:
        if path == "health":
            body = {"template": str(self.template_path), "functions": sorted(self.functions)}
            return Response(json.dumps(body), content_type="application/json")
        if path.startswith("invoke/") and request.method == "POST":
            function = path[len("invoke/") :]
            try:
                invocation = self.invoke(function, json.loads(request.get_data() or b"{}"))
            except KeyError as exc:
                return Response(
                    json.dumps({"message": str(exc)}), status=404, content_type="application/json"
                )
            body = {"status": invocation.status, "payload": invocation.payload, "error": invocation.error}
            return Response(json.dumps(body), content_type="application/json")
        return None

    # ----- event source mappings -----

    def _make_pollers(self) -> list[Poller]:
        pollers: list[Poller] = []
        for logical_id, spec in self.specs.items():
            for event_name, event in spec.events.items():
                kind = event.get("Type")
                if kind not in ("DynamoDB", "Kinesis", "SQS"):
                    continue
                properties = self.resolver.resolve(event.get("Properties", {}))
                if properties.get("Enabled") is False:
                    continue
                context = PollerContext(
                    runtime=self.functions[logical_id],
                    client=self.client,
                    signal=self._signal,
                    report=self.reporter.invocation,
                    region=self.region,
                    poll_interval=self._poll_interval,
                    source=resource_name(properties.get("Stream") or properties["Queue"]),
                )
                pollers.extend(self._pollers_for(logical_id, event_name, kind, properties, context))
        return pollers

    def _pollers_for(
        self, logical_id: str, event_name: str, kind: str, properties: dict[str, Any], context: PollerContext
    ) -> list[Poller]:
        report_failures = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        if kind == "SQS":
            arn = properties["Queue"]
            filters = RecordFilter(properties.get("FilterCriteria"), "sqs")
            trigger = f"sqs {arn.rsplit(':', 1)[-1]}"
            batch_size = int(properties.get("BatchSize", 10))
            return [SQSPoller(context, arn, filters, trigger, batch_size, window, report_failures)]
        arn = properties["Stream"]
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        send_failure = self._failure_sender(destination) if destination else None
        if kind == "DynamoDB":
            poller_type: type[DynamoDBStreamPoller | KinesisPoller] = DynamoDBStreamPoller
            client, source, info_key = self.client("dynamodbstreams"), "dynamodb", "DDBStreamBatchInfo"
            trigger = f"ddb-stream {arn.split(':table/')[-1].split('/')[0]}"
        else:
            poller_type = KinesisPoller
            client, source, info_key = self.client("kinesis"), "kinesis", "KinesisBatchInfo"
            trigger = f"kinesis {arn.rsplit('/', 1)[-1]}"
        pollers: list[Poller] = []
        for shard_id in poller_type.shard_ids(client, arn):
            settings = StreamSettings(
                function_arn=self.function_arn(logical_id),
                stream_arn=arn,
                shard_id=shard_id,
                batch_info_key=info_key,
                batch_size=int(properties.get("BatchSize", 100)),
                batching_window=window,
                bisect=bool(properties.get("BisectBatchOnFunctionError", False)),
                max_retries=int(properties.get("MaximumRetryAttempts", -1)),
                max_record_age=float(properties.get("MaximumRecordAgeInSeconds", -1)),
                report_item_failures=report_failures,
            )
            filters = RecordFilter(properties.get("FilterCriteria"), source)
            starting_position = properties.get("StartingPosition", "LATEST")
            pollers.append(
                poller_type(
                    context, settings, filters, send_failure, trigger, starting_position=starting_position
                )
            )
        return pollers

    def _failure_sender(self, destination_arn: str) -> Any:
        """Send a failure record to an SQS queue or SNS topic, as Lambda's OnFailure destination does."""
        service = destination_arn.split(":")[2]

        def send(record: dict[str, Any]) -> None:
            body = json.dumps(record)
            if service == "sqs":
                sqs = self.client("sqs")
                url = sqs.get_queue_url(QueueName=destination_arn.rsplit(":", 1)[-1])["QueueUrl"]
                sqs.send_message(QueueUrl=url, MessageBody=body)
            elif service == "sns":
                self.client("sns").publish(TopicArn=destination_arn, Message=body)
            else:
                self.reporter.say(f"[localcloud] on-failure destination {destination_arn} is not supported")

        return send


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
