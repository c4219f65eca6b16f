"""Presence tags connections with their server process's id: a forked worker has an id of its own."""

from __future__ import annotations

from presence.store import process_id

from .forking import in_forked_child


def test_a_process_keeps_its_id():
    assert process_id() == process_id()


def test_a_forked_child_gets_an_id_of_its_own():
    parent_id = process_id()  # made before the fork, as a preloading server would

    child_id = in_forked_child(process_id)

    assert child_id != parent_id
    assert process_id() == parent_id
