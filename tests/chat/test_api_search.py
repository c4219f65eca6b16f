"""REST: message search (PostgreSQL full text, SQLite substring) and user search.

Every test here runs on both databases: the suite is run once on each.
"""

import pytest

from chat import actions
from config import settings as defaults

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/search/"
USERS = "/api/v1/users/"


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def say(user, room, body: str) -> dict:
    room_id = room if isinstance(room, int) else room.id
    return actions.send_message(user, room_id, body=body)[0]


def bodies(response) -> list[str]:
    return [message["body"] for message in response.json()]


# --- Messages ----------------------------------------------------------------------------


def test_search_finds_a_message_of_the_callers_room(api_for, ann, bob, group_room):
    found = say(ann, group_room, "The deployment is on Friday")
    say(ann, group_room, "Lunch at noon")

    response = api_for(bob).get(SEARCH, {"q": "deployment"})

    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [found["id"]]
    assert response.json()[0]["room"] == group_room.id


def test_search_ignores_case(api_for, ann, bob, group_room):
    say(ann, group_room, "Kubernetes cluster upgrade")

    assert bodies(api_for(bob).get(SEARCH, {"q": "KUBERNETES"})) == ["Kubernetes cluster upgrade"]


def test_search_finds_a_word_inside_a_longer_body_on_every_database(api_for, ann, bob, group_room):
    say(ann, group_room, "see the run-book at wiki/ops_runbook.md")

    assert bodies(api_for(bob).get(SEARCH, {"q": "runbook"})) == ["see the run-book at wiki/ops_runbook.md"]


def test_search_on_postgresql_matches_other_forms_of_a_word(api_for, ann, bob, group_room, postgres):
    say(ann, group_room, "We deployed it yesterday")

    assert bodies(api_for(bob).get(SEARCH, {"q": "deploying"})) == ["We deployed it yesterday"]


def test_search_on_postgresql_ranks_better_matches_first(api_for, ann, bob, group_room, postgres):
    say(ann, group_room, "release notes for the release of the release")
    say(ann, group_room, "a release")
    say(ann, group_room, "unrelated newest message mentioning nothing")

    assert bodies(api_for(bob).get(SEARCH, {"q": "release"})) == [
        "release notes for the release of the release",
        "a release",
    ]


def test_search_leaves_out_rooms_the_caller_is_not_in(api_for, ann, bob, cat, group_room):
    secret_room = actions.create_group_room(cat, name="Cat only")
    say(cat, secret_room["id"], "deployment secrets")
    say(ann, group_room, "deployment plan")

    assert bodies(api_for(bob).get(SEARCH, {"q": "deployment"})) == ["deployment plan"]


def test_search_leaves_out_public_rooms_the_caller_has_not_joined(api_for, ann, cat):
    lobby = actions.create_group_room(ann, name="Lobby", is_public=True)
    say(ann, lobby["id"], "deployment in the lobby")

    assert api_for(cat).get(SEARCH, {"q": "deployment"}).json() == []


def test_search_leaves_out_deleted_messages(api_for, ann, bob, group_room):
    gone = say(ann, group_room, "deployment typo")
    say(ann, group_room, "deployment fixed")
    actions.delete_message(ann, gone["id"])

    assert bodies(api_for(bob).get(SEARCH, {"q": "deployment"})) == ["deployment fixed"]


def test_search_leaves_out_rooms_the_caller_left(api_for, ann, bob, group_room):
    say(ann, group_room, "deployment before you left")
    actions.leave_room(bob, group_room.id)

    assert api_for(bob).get(SEARCH, {"q": "deployment"}).json() == []


def test_search_leaves_out_archived_rooms(api_for, ann, bob, group_room):
    say(ann, group_room, "deployment archived")
    actions.archive_room(ann, group_room.id)

    assert api_for(bob).get(SEARCH, {"q": "deployment"}).json() == []


def test_search_in_one_room_with_the_room_parameter(api_for, ann, bob, group_room):
    other = actions.create_group_room(ann, name="Other", members=[bob.id])
    say(ann, other["id"], "deployment elsewhere")
    say(ann, group_room, "deployment here")

    response = api_for(bob).get(SEARCH, {"q": "deployment", "room": group_room.id})

    assert bodies(response) == ["deployment here"]


def test_search_with_the_room_parameter_of_a_room_not_joined_finds_nothing(api_for, cat, ann, group_room):
    say(ann, group_room, "deployment here")

    response = api_for(cat).get(SEARCH, {"q": "deployment", "room": group_room.id})

    assert response.status_code == 200
    assert response.json() == []


def test_search_answers_full_messages_newest_first_on_equal_match(api_for, ann, bob, group_room):
    say(ann, group_room, "release one")
    say(ann, group_room, "release two")

    response = api_for(bob).get(SEARCH, {"q": "release"})

    assert bodies(response) == ["release two", "release one"]
    assert {"id", "room", "seq", "sender", "body", "body_html"} <= set(response.json()[0])


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}])
def test_search_with_an_empty_query_is_400(api_for, bob, params):
    response = api_for(bob).get(SEARCH, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_search_with_a_nul_character_is_400(api_for, bob):
    response = api_for(bob).get(SEARCH, {"q": "a\x00b"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_search_with_a_bad_room_parameter_is_400(api_for, bob):
    response = api_for(bob).get(SEARCH, {"q": "x", "room": "general"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_search_with_query_syntax_characters_does_not_fail(api_for, ann, bob, group_room):
    say(ann, group_room, 'quote " and & | ! ( ) : * tricks')

    response = api_for(bob).get(SEARCH, {"q": '" & | ! ( ) : *'})

    assert response.status_code == 200


# --- Users ----------------------------------------------------------------------------------


def test_users_search_matches_username_and_display_name(api_for, ann, make_user, settings):
    settings.USER_DIRECTORY_OPEN = True
    make_user("dan", display_name="Daniel Green")
    make_user("erin", display_name="Erin Dane")
    make_user("fred", display_name="Fred")

    response = api_for(ann).get(USERS, {"q": "dan"})

    assert response.status_code == 200
    assert [u["username"] for u in response.json()] == ["dan", "erin"]
    assert set(response.json()[0]) == {"id", "username", "display_name", "avatar_url", "avatar_small_url", "is_bot"}


def test_users_search_leaves_out_the_caller_and_inactive_users(api_for, ann, make_user, settings):
    settings.USER_DIRECTORY_OPEN = True
    make_user("annette")
    make_user("anna", is_active=False)

    assert [u["username"] for u in api_for(ann).get(USERS, {"q": "ann"}).json()] == ["annette"]


def test_users_search_without_a_query_lists_at_most_20(api_for, ann, make_user, settings):
    settings.USER_DIRECTORY_OPEN = True
    for n in range(25):
        make_user(f"u{n:02d}")

    response = api_for(ann).get(USERS)

    assert len(response.json()) == 20


def test_users_search_with_a_nul_character_is_400(api_for, ann):
    response = api_for(ann).get(USERS, {"q": "a\x00b"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- The closed directory (USER_DIRECTORY_OPEN off, the default) -------------------------------------


@pytest.fixture
def strangers_and_a_roommate(ann, make_user):
    """Dana shares a room with Ann; Danny and Daniela share none."""
    dana = make_user("dana")
    make_user("danny")
    make_user("daniela")
    actions.create_group_room(ann, name="Pair", members=[dana.id])


def test_the_directory_is_closed_by_default():
    assert defaults.USER_DIRECTORY_OPEN is False


def test_a_closed_directory_lists_only_people_who_share_a_room_with_the_caller(api_for, ann, strangers_and_a_roommate):
    assert [u["username"] for u in api_for(ann).get(USERS, {"q": "dan"}).json()] == ["dana"]
    assert [u["username"] for u in api_for(ann).get(USERS).json()] == ["dana"]


def test_a_closed_directory_finds_anyone_by_exact_username_in_any_case(api_for, ann, strangers_and_a_roommate):
    assert [u["username"] for u in api_for(ann).get(USERS, {"q": "DANNY"}).json()] == ["danny"]


def test_a_closed_directory_does_not_find_an_inactive_user_by_exact_username(api_for, ann, make_user):
    make_user("gone", is_active=False)
    assert api_for(ann).get(USERS, {"q": "gone"}).json() == []


def test_a_closed_directory_leaves_out_people_met_only_in_an_archived_room(api_for, ann, make_user):
    old_friend = make_user("dora")
    room = actions.create_group_room(ann, name="Old", members=[old_friend.id])
    actions.archive_room(ann, room["id"])
    assert api_for(ann).get(USERS, {"q": "do"}).json() == []


def test_an_open_directory_lists_everybody(api_for, ann, strangers_and_a_roommate, settings):
    settings.USER_DIRECTORY_OPEN = True
    assert [u["username"] for u in api_for(ann).get(USERS, {"q": "dan"}).json()] == ["dana", "daniela", "danny"]
