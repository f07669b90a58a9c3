"""`item_size`: an item's size as DynamoDB counts it (attribute names plus values), for the 400 KB check
and the cost benchmark's write units."""

from __future__ import annotations

import pytest

from eventcore.write.dynamodb_store import item_size


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"pk": {"S": "Order-1"}}, 2 + 7),
        ({"name": {"S": "café"}}, 4 + 5),  # UTF-8 bytes, not characters
        ({"key": {"B": b"\x00" * 32}}, 3 + 32),  # binary: its bytes (a wrapped data key)
        ({"tags": {"SS": ["a", "bc"]}}, 4 + 3),
        ({"keys": {"BS": [b"\x01", b"\x02\x03"]}}, 4 + 3),
        ({"ok": {"BOOL": True}, "no": {"NULL": True}}, 2 + 1 + 2 + 1),
        ({"n": {"N": "12345"}}, 1 + 4),
        ({"l": {"L": [{"S": "ab"}]}}, 1 + 3 + 1 + 2),
        ({"m": {"M": {"k": {"S": "v"}}}}, 1 + 3 + 1 + 1 + 1),
    ],
)
def test_counts_names_and_values_as_dynamodb_does(item, size):
    assert item_size(item) == size


def test_an_attribute_type_it_does_not_know_is_refused():
    with pytest.raises(ValueError, match="unsupported attribute type XX"):
        item_size({"a": {"XX": "?"}})
