"""Each process hands a room's new messages on in seq order, whatever order Redis brought them in."""

import asyncio

import orjson
import pytest

from core.publishing import resync_envelope
from realtime import sequencer as sequencer_module
from realtime.sequencer import GroupSequencer

pytestmark = pytest.mark.asyncio


def sequencer() -> tuple[GroupSequencer, list]:
    delivered: list = []
    return GroupSequencer(delivered.append), delivered


def seqs(delivered: list) -> list:
    return [m.get("seq", m.get("name")) for m in delivered]


async def test_messages_in_order_pass_at_once():
    group, delivered = sequencer()
    for seq in (4, 5, 6):
        group.push({"seq": seq})
    assert seqs(delivered) == [4, 5, 6]


async def test_an_early_seq_waits_for_the_one_before_it():
    group, delivered = sequencer()
    group.push({"seq": 7})
    group.push({"seq": 9})
    assert seqs(delivered) == [7]
    group.push({"seq": 8})
    assert seqs(delivered) == [7, 8, 9]
    assert group.timer is None


async def test_events_without_seq_behind_a_held_message_keep_their_place_after_it():
    group, delivered = sequencer()
    group.push({"seq": 1})
    group.push({"seq": 3})
    group.push({"name": "edit of 3"})
    group.push({"seq": 2})
    assert seqs(delivered) == [1, 2, 3, "edit of 3"]


async def test_a_seq_that_never_comes_holds_the_others_only_for_the_gap_wait(monkeypatch):
    monkeypatch.setattr(sequencer_module, "SEQ_GAP_WAIT", 0.01)
    group, delivered = sequencer()
    group.push({"seq": 1})
    group.push({"seq": 3})
    group.push({"seq": 4})
    assert seqs(delivered) == [1]
    await asyncio.sleep(0.05)
    assert seqs(delivered) == [1, 3, 4, None]
    group.push({"seq": 5})
    assert seqs(delivered) == [1, 3, 4, None, 5]


async def test_giving_up_on_a_seq_tells_the_group_to_resync(monkeypatch):
    monkeypatch.setattr(sequencer_module, "SEQ_GAP_WAIT", 0.01)
    group, delivered = sequencer()
    group.push({"seq": 1})
    group.push({"seq": 3})
    await asyncio.sleep(0.05)
    assert delivered[-1] == resync_envelope("gap")
    assert orjson.loads(delivered[-1]["frame"]) == {"type": "resync", "data": {"reason": "gap"}}


async def test_a_gap_filled_in_time_asks_for_no_resync(monkeypatch):
    monkeypatch.setattr(sequencer_module, "SEQ_GAP_WAIT", 0.05)
    group, delivered = sequencer()
    group.push({"seq": 1})
    group.push({"seq": 3})
    group.push({"seq": 2})
    await asyncio.sleep(0.1)
    assert seqs(delivered) == [1, 2, 3]


async def test_a_late_seq_after_the_wait_is_still_delivered():
    group, delivered = sequencer()
    group.push({"seq": 1})
    group.push({"seq": 3})
    group.release()  # the wait ran out
    group.push({"seq": 2})
    assert seqs(delivered) == [1, 3, 2]


async def test_the_first_message_a_process_sees_sets_where_its_seqs_start():
    group, delivered = sequencer()
    group.push({"name": "typing"})
    group.push({"seq": 40})
    group.push({"seq": 41})
    assert seqs(delivered) == ["typing", 40, 41]


async def test_a_start_known_from_a_member_holds_a_first_message_that_overtook_the_one_before():
    group, delivered = sequencer()
    group.next_seq = 1  # the room's last_seq + 1, as a connecting member read it (layer.expect_seq)
    group.push({"seq": 2})
    assert delivered == []
    group.push({"seq": 1})
    assert seqs(delivered) == [1, 2]
