"""Event registry: encoding, decoding, and upcasting old schema versions."""

from __future__ import annotations

from typing import ClassVar

import pytest

from eventcore import Event, EventRegistry, UnknownEventTypeError, UnsupportedSchemaVersionError


class ParcelSent(Event):
    schema_version: ClassVar[int] = 3
    parcel_id: str
    weight_grams: int
    carrier: str


registry = EventRegistry([ParcelSent])


@registry.upcaster("ParcelSent", 1)
def _kilograms_to_grams(data: dict) -> dict:
    return {"parcel_id": data["parcel_id"], "weight_grams": data.pop("weight_kg") * 1000}


@registry.upcaster("ParcelSent", 2)
def _carrier_added(data: dict) -> dict:
    return {**data, "carrier": "unknown"}


def test_an_event_round_trips_through_its_recorded_form():
    event = ParcelSent(parcel_id="p1", weight_grams=1200, carrier="PostNL")
    recorded = registry.encode(event, event_id="e1", recorded_at="2026-11-26T10:00:00Z")
    assert (recorded.event_type, recorded.schema_version) == ("ParcelSent", 3)
    assert registry.decode(recorded) == event


def test_old_schema_versions_are_upcast_step_by_step():
    assert registry.decode_data("ParcelSent", 1, {"parcel_id": "p1", "weight_kg": 2}) == ParcelSent(
        parcel_id="p1", weight_grams=2000, carrier="unknown"
    )


def test_an_unknown_type_is_named():
    with pytest.raises(UnknownEventTypeError, match="'ParcelLost'"):
        registry.decode_data("ParcelLost", 1, {})


def test_a_schema_version_newer_than_the_code_is_refused():
    with pytest.raises(UnsupportedSchemaVersionError, match="newer than this code's version 3"):
        registry.decode_data("ParcelSent", 4, {})


def test_a_missing_upcaster_is_named():
    partial = EventRegistry([ParcelSent])
    with pytest.raises(UnsupportedSchemaVersionError, match="no upcaster from version 2"):
        partial.decode_data("ParcelSent", 2, {})
