"""REST: history pages, send (idempotent, validated, rate limited), edit and delete."""

import uuid

import pytest

from chat import actions
from chat.models import Message, Room, RoomMember
from uploads.models import Upload

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {
    "id",
    "room",
    "seq",
    "sender",
    "kind",
    "body",
    "body_html",
    "reply_to",
    "attachments",
    "reactions",
    "pinned",
    "edited_at",
    "deleted",
    "created_at",
    "client_id",
    "thread_root",
    "also_to_room",
    "thread_summary",
    "system",
    "sender_name",
}


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def messages_url(room) -> str:
    return f"/api/v1/rooms/{room.id}/messages/"


def message_url(message_id: int) -> str:
    return f"/api/v1/messages/{message_id}/"


def fill(room, user, count: int) -> None:
    for n in range(1, count + 1):
        actions.send_message(user, room.id, body=f"message {n}")


def post_message(client, room, **data):
    data.setdefault("client_id", str(uuid.uuid4()))
    return client.post(messages_url(room), data, format="json")


# --- History --------------------------------------------------------------------------


def test_history_defaults_to_the_newest_50_oldest_first(api_for, ann, bob, group_room):
    fill(group_room, ann, 60)

    response = api_for(bob).get(messages_url(group_room))

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"messages", "has_more"}
    assert [m["seq"] for m in page["messages"]] == list(range(11, 61))
    assert page["has_more"] is True


def test_history_of_a_short_room_has_no_more(api_for, ann, bob, group_room):
    fill(group_room, ann, 3)

    page = api_for(bob).get(messages_url(group_room)).json()

    assert [m["body"] for m in page["messages"]] == ["message 1", "message 2", "message 3"]
    assert page["has_more"] is False


def test_history_of_an_empty_room_is_an_empty_page(api_for, bob, group_room):
    assert api_for(bob).get(messages_url(group_room)).json() == {"messages": [], "has_more": False}


def test_history_message_has_exactly_the_contract_fields(api_for, ann, bob, group_room):
    fill(group_room, ann, 1)

    (message,) = api_for(bob).get(messages_url(group_room)).json()["messages"]

    assert set(message) == MESSAGE_KEYS
    assert message["sender"] == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    assert message["created_at"].endswith("Z")


def test_history_before_pages_back_oldest_first(api_for, ann, bob, group_room):
    fill(group_room, ann, 20)

    page = api_for(bob).get(messages_url(group_room), {"before": 11, "limit": 5}).json()

    assert [m["seq"] for m in page["messages"]] == [6, 7, 8, 9, 10]
    assert page["has_more"] is True


def test_history_before_reaching_the_start_has_no_more(api_for, ann, bob, group_room):
    fill(group_room, ann, 20)

    page = api_for(bob).get(messages_url(group_room), {"before": 4, "limit": 5}).json()

    assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
    assert page["has_more"] is False


def test_history_after_pages_forward_oldest_first(api_for, ann, bob, group_room):
    fill(group_room, ann, 20)

    page = api_for(bob).get(messages_url(group_room), {"after": 0, "limit": 5}).json()

    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5]
    assert page["has_more"] is True


def test_history_after_reaching_the_end_has_no_more(api_for, ann, bob, group_room):
    fill(group_room, ann, 20)

    page = api_for(bob).get(messages_url(group_room), {"after": 17, "limit": 5}).json()

    assert [m["seq"] for m in page["messages"]] == [18, 19, 20]
    assert page["has_more"] is False


def test_history_between_after_and_before_pages_forward_inside_the_range(api_for, ann, bob, group_room):
    fill(group_room, ann, 20)

    page = api_for(bob).get(messages_url(group_room), {"after": 5, "before": 9, "limit": 10}).json()

    assert [m["seq"] for m in page["messages"]] == [6, 7, 8]
    assert page["has_more"] is False


def test_history_with_a_limit_exactly_the_remaining_count_has_no_more(api_for, ann, bob, group_room):
    fill(group_room, ann, 5)

    page = api_for(bob).get(messages_url(group_room), {"limit": 5}).json()

    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5]
    assert page["has_more"] is False


@pytest.mark.parametrize("limit", [1, 100])
def test_history_accepts_limits_from_1_to_100(api_for, ann, bob, group_room, limit):
    fill(group_room, ann, 2)

    response = api_for(bob).get(messages_url(group_room), {"limit": limit})

    assert response.status_code == 200
    assert len(response.json()["messages"]) == min(limit, 2)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5"])
def test_history_rejects_a_limit_outside_1_to_100(api_for, bob, group_room, limit):
    response = api_for(bob).get(messages_url(group_room), {"limit": limit})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("cursor", ["before", "after"])
@pytest.mark.parametrize("value", ["x", "-1"])
def test_history_rejects_a_cursor_that_is_not_a_seq(api_for, bob, group_room, cursor, value):
    response = api_for(bob).get(messages_url(group_room), {cursor: value})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_history_shows_a_deleted_message_as_a_placeholder_without_content(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(ann, group_room.id, body="oops")
    actions.set_reaction(bob, sent["id"], "👍", True)
    actions.delete_message(ann, sent["id"])

    (message,) = api_for(bob).get(messages_url(group_room)).json()["messages"]

    assert (message["id"], message["room"], message["seq"], message["deleted"]) == (sent["id"], group_room.id, 1, True)
    assert (message["body"], message["body_html"], message["attachments"], message["reactions"]) == ("", "", [], [])


# --- Send ------------------------------------------------------------------------------


def test_send_returns_201_with_the_stored_message(api_for, bob, group_room):
    client_id = str(uuid.uuid4())

    response = post_message(api_for(bob), group_room, body="Hello *there*", client_id=client_id)

    assert response.status_code == 201
    message = response.json()
    assert set(message) == MESSAGE_KEYS
    stored = Message.objects.get()
    assert (message["id"], message["room"], message["seq"], message["kind"]) == (stored.id, group_room.id, 1, "text")
    assert (message["body"], message["body_html"]) == ("Hello *there*", "<p>Hello <em>there</em></p>")
    assert message["client_id"] == client_id
    assert message["sender"]["id"] == bob.id
    assert (message["reply_to"], message["pinned"], message["deleted"], message["edited_at"]) == (
        None,
        False,
        False,
        None,
    )


def test_send_gives_consecutive_seqs(api_for, ann, bob, group_room):
    seqs = [post_message(api_for(user), group_room, body="x").json()["seq"] for user in (ann, bob, ann)]

    assert seqs == [1, 2, 3]
    group_room.refresh_from_db()
    assert group_room.last_seq == 3


def test_send_marks_the_message_read_for_its_sender(api_for, bob, group_room):
    post_message(api_for(bob), group_room, body="mine")

    assert RoomMember.objects.get(room=group_room, user=bob).last_read_seq == 1


def test_send_without_a_client_id_still_works(api_for, bob, group_room):
    response = api_for(bob).post(messages_url(group_room), {"body": "no key"}, format="json")

    assert response.status_code == 201
    assert response.json()["client_id"] is None


def test_send_again_with_the_same_client_id_returns_200_and_the_same_message(api_for, bob, group_room):
    client_id = str(uuid.uuid4())
    first = post_message(api_for(bob), group_room, body="once", client_id=client_id)

    again = post_message(api_for(bob), group_room, body="once", client_id=client_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.count() == 1


def test_send_retry_is_answered_even_when_the_rate_limit_is_reached(api_for, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    client_id = str(uuid.uuid4())
    first = post_message(api_for(bob), group_room, body="once", client_id=client_id)

    again = post_message(api_for(bob), group_room, body="once", client_id=client_id)

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_same_client_id_by_another_user_is_a_separate_message(api_for, ann, bob, group_room):
    client_id = str(uuid.uuid4())
    post_message(api_for(bob), group_room, body="bob's", client_id=client_id)

    response = post_message(api_for(ann), group_room, body="ann's", client_id=client_id)

    assert response.status_code == 201
    assert Message.objects.count() == 2


def test_same_client_id_in_another_room_is_409(api_for, ann, bob, group_room):
    other = Room.objects.get(pk=actions.create_group_room(ann, name="Other", members=[bob.id])["id"])
    client_id = str(uuid.uuid4())
    post_message(api_for(bob), group_room, body="here", client_id=client_id)

    response = post_message(api_for(bob), other, body="there", client_id=client_id)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert Message.objects.count() == 1


@pytest.mark.parametrize("client_id", ["not-a-uuid", 12, ["x"]])
def test_send_with_a_bad_client_id_is_400(api_for, bob, group_room, client_id):
    response = api_for(bob).post(messages_url(group_room), {"body": "x", "client_id": client_id}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Message.objects.exists()


def test_send_with_a_too_long_body_is_413_too_large(api_for, bob, group_room, settings):
    settings.MESSAGE_MAX_LENGTH = 20

    response = post_message(api_for(bob), group_room, body="x" * 21)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Message.objects.exists()


def test_send_with_a_body_of_exactly_the_maximum_length_is_stored(api_for, bob, group_room, settings):
    settings.MESSAGE_MAX_LENGTH = 20

    response = post_message(api_for(bob), group_room, body="x" * 20)

    assert response.status_code == 201


@pytest.mark.parametrize("body", ["", "   \n ", None])
def test_send_with_an_empty_body_is_400(api_for, bob, group_room, body):
    response = post_message(api_for(bob), group_room, body=body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Message.objects.exists()


def test_send_with_a_non_string_body_is_400(api_for, bob, group_room):
    response = post_message(api_for(bob), group_room, body={"text": "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_send_with_a_nul_character_in_the_body_is_400(api_for, bob, group_room):
    response = post_message(api_for(bob), group_room, body="a\x00b")

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_send_never_puts_raw_html_in_body_html(api_for, bob, group_room):
    message = post_message(api_for(bob), group_room, body='<script>alert(1)</script><img src=x onerror="x()">').json()

    assert "<script" not in message["body_html"]
    assert "<img" not in message["body_html"]
    assert message["body"] == '<script>alert(1)</script><img src=x onerror="x()">'


def test_send_a_reply_to_a_message_of_the_room(api_for, ann, bob, group_room):
    original, _ = actions.send_message(ann, group_room.id, body="question")

    response = post_message(api_for(bob), group_room, body="answer", reply_to=original["id"])

    assert response.status_code == 201
    assert response.json()["reply_to"] == original["id"]


def test_send_a_reply_to_a_message_of_another_room_is_400(api_for, ann, bob, group_room):
    other = actions.create_group_room(ann, name="Other", members=[bob.id])
    elsewhere, _ = actions.send_message(ann, other["id"], body="elsewhere")

    response = post_message(api_for(bob), group_room, body="answer", reply_to=elsewhere["id"])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Message.objects.filter(room=group_room).exists()


def test_send_a_reply_to_an_unknown_message_is_400(api_for, bob, group_room):
    response = post_message(api_for(bob), group_room, body="answer", reply_to=999_999)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_send_code_kind_keeps_the_code_as_code(api_for, bob, group_room):
    response = post_message(api_for(bob), group_room, body="if a < b:\n    pass", kind="code")

    assert response.status_code == 201
    assert response.json()["kind"] == "code"
    assert "<code" in response.json()["body_html"]
    assert "a &lt; b" in response.json()["body_html"]


@pytest.mark.parametrize("kind", ["system", "video", 3])
def test_send_with_a_kind_clients_may_not_use_is_400(api_for, bob, group_room, kind):
    response = post_message(api_for(bob), group_room, body="x", kind=kind)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Message.objects.exists()


def test_send_to_an_archived_room_is_404(api_for, ann, bob, group_room):
    actions.archive_room(ann, group_room.id)

    response = post_message(api_for(bob), group_room, body="anyone?")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def make_upload(owner, name: str = "notes.txt", content_type: str = "text/plain") -> Upload:
    return Upload.objects.create(
        owner=owner, file=f"uploads/{name}", original_name=name, content_type=content_type, size=5, sha256="0" * 64
    )


def test_send_with_only_an_attachment_is_a_file_message(api_for, bob, group_room):
    upload = make_upload(bob)

    response = post_message(api_for(bob), group_room, body="", attachments=[upload.id])

    assert response.status_code == 201
    message = response.json()
    assert message["kind"] == "file"
    assert [(a["id"], a["name"], a["content_type"], a["size"]) for a in message["attachments"]] == [
        (upload.id, "notes.txt", "text/plain", 5)
    ]
    upload.refresh_from_db()
    assert upload.message_id == message["id"]


def test_send_with_image_attachments_is_an_image_message(api_for, bob, group_room):
    upload = make_upload(bob, "cat.png", "image/png")

    response = post_message(api_for(bob), group_room, body="look", attachments=[upload.id])

    assert response.json()["kind"] == "image"


def test_attachments_appear_in_history(api_for, ann, bob, group_room):
    upload = make_upload(bob)
    sent = post_message(api_for(bob), group_room, body="see file", attachments=[upload.id]).json()

    (listed,) = api_for(ann).get(messages_url(group_room)).json()["messages"]

    assert listed["attachments"] == sent["attachments"]


def test_send_with_someone_elses_upload_is_400_and_stores_nothing(api_for, ann, bob, group_room):
    upload = make_upload(ann)

    response = post_message(api_for(bob), group_room, body="mine now", attachments=[upload.id])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Message.objects.exists()
    upload.refresh_from_db()
    assert upload.message_id is None


def test_send_with_an_upload_already_attached_elsewhere_is_400(api_for, bob, group_room):
    upload = make_upload(bob)
    post_message(api_for(bob), group_room, body="first", attachments=[upload.id])

    response = post_message(api_for(bob), group_room, body="again", attachments=[upload.id])

    assert response.status_code == 400
    assert Message.objects.count() == 1


def test_send_with_a_failed_attachment_does_not_use_up_a_seq(api_for, ann, bob, group_room):
    post_message(api_for(bob), group_room, body="x", attachments=[make_upload(ann).id])

    response = post_message(api_for(bob), group_room, body="next")

    assert response.json()["seq"] == 1


@pytest.mark.parametrize("attachments", ["1", [0], ["x"], {"id": 1}])
def test_send_with_malformed_attachments_is_400(api_for, bob, group_room, attachments):
    response = post_message(api_for(bob), group_room, body="x", attachments=attachments)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_send_with_more_than_10_attachments_is_413(api_for, bob, group_room):
    ids = [make_upload(bob, f"{n}.txt").id for n in range(11)]

    response = post_message(api_for(bob), group_room, body="x", attachments=ids)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


# --- Rate limit --------------------------------------------------------------------------


def test_fourth_send_over_a_limit_of_three_is_429_with_retry_after(api_for, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 3
    client = api_for(bob)
    statuses = [post_message(client, group_room, body=f"n{n}").status_code for n in range(3)]

    response = post_message(client, group_room, body="one too many")

    assert statuses == [201, 201, 201]
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited"
    assert isinstance(body["retry_after"], int)
    assert 1 <= body["retry_after"] <= settings.RATE_LIMIT_WINDOW
    assert response["Retry-After"] == str(body["retry_after"])
    assert Message.objects.count() == 3


def test_rejected_sends_do_not_count_against_the_rate_limit(api_for, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 3
    client = api_for(bob)
    for _ in range(3):
        post_message(client, group_room, body="")

    statuses = [post_message(client, group_room, body=f"n{n}").status_code for n in range(3)]

    assert statuses == [201, 201, 201]


def test_the_rate_limit_is_per_user(api_for, ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 3
    for n in range(3):
        post_message(api_for(bob), group_room, body=f"n{n}")

    response = post_message(api_for(ann), group_room, body="my own budget")

    assert response.status_code == 201


# --- Edit ---------------------------------------------------------------------------------


def test_edit_own_message_changes_body_and_sets_edited_at(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="teh typo")

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "the **fix**"}, format="json")

    assert response.status_code == 200
    edited = response.json()
    assert (edited["id"], edited["seq"], edited["body"]) == (sent["id"], 1, "the **fix**")
    assert edited["body_html"] == "<p>the <strong>fix</strong></p>"
    assert edited["edited_at"] is not None
    assert api_for(bob).get(messages_url(group_room)).json()["messages"] == [edited]


def test_edit_someone_elses_message_is_403_and_changes_nothing(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(ann, group_room.id, body="mine")

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "yours now"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Message.objects.get().body == "mine"


def test_even_the_room_owner_cannot_edit_another_members_message(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="mine")

    response = api_for(ann).patch(message_url(sent["id"]), {"body": "owner's words"}, format="json")

    assert response.status_code == 403
    assert Message.objects.get().body == "mine"


def test_edit_a_deleted_message_is_409(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="gone")
    actions.delete_message(bob, sent["id"])

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "back"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_edit_to_an_empty_body_is_400(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="text")

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Message.objects.get().body == "text"


def test_edit_to_a_too_long_body_is_413(api_for, bob, group_room, settings):
    sent, _ = actions.send_message(bob, group_room.id, body="text")
    settings.MESSAGE_MAX_LENGTH = 10

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "y" * 11}, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_edit_an_unknown_message_is_404(api_for, bob):
    response = api_for(bob).patch(message_url(999_999), {"body": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_edit_after_leaving_the_room_is_404(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="mine")
    actions.leave_room(bob, group_room.id)

    response = api_for(bob).patch(message_url(sent["id"]), {"body": "changed"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Delete ---------------------------------------------------------------------------------


def test_delete_own_message_is_204_and_soft(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="regret")

    response = api_for(bob).delete(message_url(sent["id"]))

    assert response.status_code == 204
    stored = Message.objects.get()
    assert stored.deleted_at is not None
    assert stored.deleted_by == bob


def test_room_admin_deletes_any_message(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="spam")

    response = api_for(ann).delete(message_url(sent["id"]))

    assert response.status_code == 204
    assert Message.objects.get().deleted_by == ann


def test_member_cannot_delete_someone_elses_message(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(ann, group_room.id, body="owner's")

    response = api_for(bob).delete(message_url(sent["id"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Message.objects.get().deleted_at is None


def test_delete_twice_is_404(api_for, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="regret")
    api_for(bob).delete(message_url(sent["id"]))

    response = api_for(bob).delete(message_url(sent["id"]))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_delete_an_unknown_message_is_404(api_for, bob):
    response = api_for(bob).delete(message_url(999_999))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_delete_in_an_archived_room_is_404(api_for, ann, bob, group_room):
    sent, _ = actions.send_message(bob, group_room.id, body="kept for the record")
    actions.archive_room(ann, group_room.id)

    response = api_for(bob).delete(message_url(sent["id"]))

    assert response.status_code == 404
    assert Message.objects.get().deleted_at is None


def test_a_request_body_over_the_upload_limit_is_413_too_large(api_for, bob, group_room, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_message(api_for(bob), group_room, body="x" * 2000)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Message.objects.exists()
