"""The stack's functions: each `AWS::Lambda::Function` of the translated template as a pool of workers.

Handler, runtime, timeout, memory, environment and layers are read from the translated function, where SAM
has already merged the Globals. A layer given as a Ref to an `AWS::Lambda::LayerVersion` of the template is
its local folder; one given as an ARN (a public Powertools layer, say) is expected in the virtualenv.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from localcloud.workers import FunctionRuntime, close_all

if TYPE_CHECKING:
    from localcloud.stack import Stack
    from localcloud.workers import Invocation

__all__ = ["FAKE_CREDENTIALS", "FunctionSpec", "Functions", "function_specs"]

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "localcloud",
    "AWS_SECRET_ACCESS_KEY": "localcloud",
    "AWS_SESSION_TOKEN": "localcloud",
}
HEALTH_CHECK_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class FunctionSpec:
    """One function as it would be deployed: every value resolved."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    environment: dict[str, str]
    code_folder: Path
    layer_folders: tuple[Path, ...]
    dead_letter_arn: str | None = None


def function_specs(stack: Stack) -> tuple[dict[str, FunctionSpec], list[str]]:
    """The functions that can run here, by logical id, and a note for each that cannot (and why)."""
    specs: dict[str, FunctionSpec] = {}
    skipped: list[str] = []
    for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
        properties = resource.get("Properties", {})
        runtime = str(properties.get("Runtime", ""))
        if properties.get("PackageType", "Zip") != "Zip" or not runtime.startswith("python"):
            skipped.append(f"{logical_id}: only Python Zip functions run locally (Runtime {runtime or '-'})")
            continue
        code = properties.get("Code", {})
        if "ZipFile" in code:
            code_folder = _inline_code(logical_id, stack.resolver.resolve(code["ZipFile"]))
        else:
            code_folder = stack.translation.code_folder(code, logical_id)
        layers = []
        for layer in properties.get("Layers", []):
            target = layer.get("Ref") if isinstance(layer, dict) else None
            layer_resource = stack.resources.get(target or "", {})
            if layer_resource.get("Type") == "AWS::Lambda::LayerVersion":
                content = layer_resource.get("Properties", {}).get("Content", {})
                layers.append(stack.translation.code_folder(content, str(target)))
        variables = properties.get("Environment", {}).get("Variables", {})
        dead_letter = properties.get("DeadLetterConfig", {}).get("TargetArn")
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=stack.function_name(logical_id),
            arn=stack.function_arn(logical_id),
            handler=str(properties["Handler"]),
            runtime=runtime,
            timeout=float(properties.get("Timeout", 3)),
            memory_size=int(properties.get("MemorySize", 128)),
            environment={key: _env_text(stack.resolver.resolve(value)) for key, value in variables.items()},
            code_folder=code_folder,
            layer_folders=tuple(layers),
            dead_letter_arn=str(stack.resolver.resolve(dead_letter)) if dead_letter else None,
        )
    return specs, skipped


def _inline_code(logical_id: str, source: str) -> Path:
    """InlineCode (Code.ZipFile) becomes index.py in a folder of its own, as Lambda unpacks it."""
    folder = Path(tempfile.mkdtemp(prefix=f"localcloud-{logical_id}-"))
    (folder / "index.py").write_text(source)
    return folder


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def worker_setup(spec: FunctionSpec, endpoint_url: str, region: str) -> dict[str, Any]:
    """What a worker needs: the function's environment as Lambda sets it, pointed at the local moto."""
    environment = dict(spec.environment)
    environment.update(FAKE_CREDENTIALS)
    environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_folder),
            "_HANDLER": spec.handler,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return {
        "function_name": spec.name,
        "function_arn": spec.arn,
        "memory_size": spec.memory_size,
        "handler": spec.handler,
        "environment": environment,
        "paths": [str(spec.code_folder), *(str(path) for path in spec.layer_folders)],
    }


class Functions:
    """Every function's runtime, by logical id; a watcher replaces workers that die while idle."""

    def __init__(
        self,
        specs: dict[str, FunctionSpec],
        endpoint_url: str,
        region: str,
        max_workers: int,
        logs: BinaryIO | None,
    ) -> None:
        self.specs = specs
        self.runtimes = {
            logical_id: FunctionRuntime(
                worker_setup(spec, endpoint_url, region), spec.timeout, max_workers=max_workers, logs=logs
            )
            for logical_id, spec in specs.items()
        }
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-watcher", daemon=True)

    def __getitem__(self, logical_id: str) -> FunctionRuntime:
        return self.runtimes[logical_id]

    def find(self, function: str) -> FunctionRuntime:
        """By logical id, function name or ARN; KeyError naming the functions there are."""
        for logical_id, spec in self.specs.items():
            if function in (logical_id, spec.name, spec.arn):
                return self.runtimes[logical_id]
        raise KeyError(f"no function {function!r}; the template has {sorted(self.specs)}")

    def by_arn(self, arn: str) -> FunctionRuntime | None:
        name = arn.split(":function:", 1)[-1].split(":", 1)[0]
        try:
            return self.find(name)
        except KeyError:
            return None

    def start(self, prewarm: bool) -> None:
        if prewarm:
            for runtime in self.runtimes.values():
                runtime.prewarm()
        self._watcher.start()

    def wait_ready(self, timeout: float) -> None:
        """Block until every function has a worker past its init phase (InitError, TimeoutError)."""
        for runtime in self.runtimes.values():
            runtime.wait_ready(timeout)

    @property
    def ready(self) -> bool:
        return all(runtime.ready for runtime in self.runtimes.values())

    def invoke(self, function: str, event: Any, trigger: str = "invoke") -> Invocation:
        return self.find(function).invoke(event, trigger)

    def _watch(self) -> None:
        while not self._stopping.wait(HEALTH_CHECK_INTERVAL_SECONDS):
            for runtime in self.runtimes.values():
                runtime.replace_dead_idle_workers()

    def stop(self) -> None:
        self._stopping.set()
        close_all(list(self.runtimes.values()))
