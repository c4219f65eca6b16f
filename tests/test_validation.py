"""core.validation: strict ids, whole numbers, choices, times and JSON depth, as every transport uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import ActionError
from core.validation import MAX_ID, json_nesting_depth, parse_choice, parse_id, parse_timestamp, parse_whole_number


@pytest.mark.parametrize("value", [1, "1", "42", MAX_ID, str(MAX_ID)])
def test_parse_id_takes_ints_and_ascii_digit_strings_in_range(value):
    assert parse_id(value, "room") == int(value)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        MAX_ID + 1,
        True,
        False,
        4.9,
        4.0,
        float("inf"),
        float("nan"),
        "4.9",
        " 4",
        "+4",
        "1_000",
        "٣",
        "²",
        "",
        None,
        [1],
    ],
)
def test_parse_id_refuses_everything_else_as_invalid(value):
    with pytest.raises(ActionError) as error:
        parse_id(value, "room")
    assert (error.value.code, error.value.message) == ("invalid", "`room` must be an id.")


def test_parse_whole_number_refuses_a_digit_string_too_long_to_be_in_range_without_reading_it():
    with pytest.raises(ActionError):
        parse_whole_number("9" * 5000, "seq")


@pytest.mark.parametrize("value", [["a"], {"a": 1}, 1, None, "c"])
def test_parse_choice_refuses_anything_but_one_of_its_strings(value):
    with pytest.raises(ActionError) as error:
        parse_choice(value, "kind", ("a", "b"))
    assert error.value.message == "`kind` must be one of: a, b."


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["[[[[", "\\"]]]"]', 1), (b"[[]]", 2)],
)
def test_json_nesting_depth_counts_brackets_outside_strings(text, depth):
    assert json_nesting_depth(text) == depth


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-02T03:04:05Z",
        "2030-01-02T05:04:05+02:00",
        datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_parse_timestamp_takes_a_time_with_its_offset_and_gives_it_in_utc(value):
    assert parse_timestamp(value, "until") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-02T03:04:05",
        datetime(2030, 1, 2, 3, 4, 5),
        "2030-01-02T03:04:05+25:00",
        "9999-12-31T23:59:59-23:00",
        "tomorrow",
        "",
        "2030-01-02T03:04:05Z\x00",
        "2" * 65,
        None,
        1893553445,
        ["2030-01-02T03:04:05Z"],
    ],
)
def test_parse_timestamp_refuses_anything_else_as_invalid_naming_the_field(value):
    with pytest.raises(ActionError) as error:
        parse_timestamp(value, "until")
    assert error.value.code == "invalid"
    assert error.value.message == "`until` must be an ISO 8601 time with its offset (or Z)."
