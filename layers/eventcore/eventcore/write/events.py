"""Events as stored facts: pydantic models with a type and a schema version, the envelope they are stored in,
and the registry that encodes them and upcasts old schema versions on the way back in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from eventcore.errors import UnknownEventTypeError, UnsupportedSchemaVersionError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Event(BaseModel):
    """A domain fact. Its type is the class name; bump `schema_version` and register an upcaster whenever the
    stored shape changes, so events written by older code stay readable forever."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as it sits in the log: the domain payload (as JSON text) plus what the log adds."""

    event_id: str
    event_type: str
    schema_version: int
    data: str
    recorded_at: str

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.data)
        return data


class EventRegistry:
    """Maps stored event types to their current model, with the upcasters between schema versions."""

    def __init__(self, event_types: Iterable[type[Event]]) -> None:
        self._models: dict[str, type[Event]] = {cls.event_type(): cls for cls in event_types}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    @property
    def event_types(self) -> list[str]:
        """The stored types it reads, in the order it was given them."""
        return list(self._models)

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning `event_type` data of `from_version` into `from_version + 1`."""

        def register(function: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = function
            return function

        return register

    def encode(self, event: Event, *, event_id: str, recorded_at: str) -> RecordedEvent:
        return RecordedEvent(
            event_id=event_id,
            event_type=event.event_type(),
            schema_version=event.schema_version,
            data=event.model_dump_json(),
            recorded_at=recorded_at,
        )

    def decode(self, recorded: RecordedEvent) -> Event:
        return self.decode_data(recorded.event_type, recorded.schema_version, recorded.payload())

    def decode_data(self, event_type: str, schema_version: int, data: dict[str, Any]) -> Event:
        model = self._models.get(event_type)
        if model is None:
            raise UnknownEventTypeError(event_type)
        if schema_version > model.schema_version:
            raise UnsupportedSchemaVersionError(
                event_type, schema_version, f"newer than this code's version {model.schema_version}"
            )
        for version in range(schema_version, model.schema_version):
            upcast = self._upcasters.get((event_type, version))
            if upcast is None:
                raise UnsupportedSchemaVersionError(
                    event_type, schema_version, f"no upcaster from version {version}"
                )
            data = upcast(data)
        return model.model_validate(data)
