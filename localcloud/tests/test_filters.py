"""Lambda filter patterns, matched on records as each source presents them."""

from __future__ import annotations

import base64
import json

import pytest

from localcloud.filters import FilterError, RecordFilter, matches


def sqs(body: object) -> dict[str, object]:
    return {"body": body if isinstance(body, str) else json.dumps(body)}


def kinesis(data: object) -> dict[str, object]:
    return {"kinesis": {"data": base64.b64encode(json.dumps(data).encode()).decode()}}


def criteria(*patterns: dict[str, object]) -> dict[str, object]:
    return {"Filters": [{"Pattern": json.dumps(pattern)} for pattern in patterns]}


class TestPatterns:
    @pytest.mark.parametrize(
        ("rule", "value", "expected"),
        [
            (["a", "b"], "b", True),
            (["a"], "c", False),
            ([5], 5.0, True),
            ([None], None, True),
            ([{"prefix": "ord"}], "order", True),
            ([{"prefix": "ord"}], "cart", False),
            ([{"suffix": ".png"}], "a.png", True),
            ([{"anything-but": ["x", "y"]}], "z", True),
            ([{"anything-but": "x"}], "x", False),
            ([{"anything-but": {"prefix": "tmp"}}], "tmp1", False),
            ([{"numeric": [">=", 10, "<", 20]}], 15, True),
            ([{"numeric": [">", 10]}], 10, False),
            ([{"numeric": ["=", 3]}], "3", True),
            ([{"equals-ignore-case": "PAID"}], "paid", True),
            (["a"], ["x", "a"], True),
        ],
    )
    def test_value_rules(self, rule: list[object], value: object, expected: bool) -> None:
        assert matches({"field": rule}, {"field": value}) is expected

    def test_exists(self) -> None:
        assert matches({"a": [{"exists": True}]}, {"a": 1})
        assert not matches({"a": [{"exists": True}]}, {"b": 1})
        assert matches({"a": [{"exists": False}]}, {"b": 1})

    def test_nested_fields_and_or(self) -> None:
        pattern = {"$or": [{"a": {"b": ["x"]}}, {"c": ["y"]}]}
        assert matches(pattern, {"a": {"b": "x"}})
        assert matches(pattern, {"c": "y"})
        assert not matches(pattern, {"a": {"b": "z"}})

    def test_an_unknown_operator_is_an_error(self) -> None:
        with pytest.raises(FilterError):
            matches({"a": [{"wildcard": "*"}]}, {"a": "x"})


class TestRecordFilter:
    def test_sqs_body_is_matched_as_json(self) -> None:
        keep = RecordFilter(criteria({"body": {"kind": ["paid"]}}), "sqs")
        assert keep.keeps(sqs({"kind": "paid"}))
        assert not keep.keeps(sqs({"kind": "open"}))
        assert not keep.keeps(sqs("plain text"))

    def test_kinesis_data_is_decoded(self) -> None:
        keep = RecordFilter(criteria({"data": {"type": [{"prefix": "Order"}]}}), "kinesis")
        assert keep.keeps(kinesis({"type": "OrderCreated"}))
        assert not keep.keeps(kinesis({"type": "PaymentDeclined"}))

    def test_dynamodb_records_are_matched_as_delivered(self) -> None:
        keep = RecordFilter(
            criteria(
                {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"v": {"N": [{"numeric": [">", 1]}]}}}}
            ),
            "dynamodb",
        )
        assert keep.keeps({"eventName": "INSERT", "dynamodb": {"NewImage": {"v": {"N": "2"}}}})
        assert not keep.keeps({"eventName": "MODIFY", "dynamodb": {"NewImage": {"v": {"N": "2"}}}})

    def test_any_filter_keeps_and_no_filters_keep_all(self) -> None:
        either = RecordFilter(criteria({"body": {"a": [1]}}, {"body": {"b": [2]}}), "sqs")
        assert either.keeps(sqs({"b": 2}))
        assert RecordFilter(None, "sqs").keeps(sqs("anything"))
