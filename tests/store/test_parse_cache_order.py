"""The remembered group order survives a restart in both the packed and the older list form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store.parse_cache import _decode_order, _encode_order


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=50))
def test_packed_order_round_trips(order: list[bytes]) -> None:
    stored = json.loads(json.dumps(_encode_order(tuple(order))))
    assert _decode_order(stored) == tuple(order)


def test_rows_written_before_packing_still_load() -> None:
    assert _decode_order({"order": ["00ff", "abcd"]}) == (b"\x00\xff", b"\xab\xcd")


def test_digests_of_mixed_sizes_keep_the_list_form() -> None:
    stored = _encode_order((b"ab", b"abc"))
    assert "order" in stored and _decode_order(stored) == (b"ab", b"abc")


def test_a_damaged_packed_order_is_refused() -> None:
    with pytest.raises(ValueError):
        _decode_order({"order_packed": "YWJj", "size": 2})  # three bytes in twos
