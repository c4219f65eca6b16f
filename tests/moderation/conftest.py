"""Moderators, non-moderator staff and admin clients for the moderation tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client


@pytest.fixture(autouse=True)
def _fast_passwords_and_private_media(settings, tmp_path):
    """Cheap password hashing (these tests make many users) and a media root per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def upload_for():
    """A real stored upload (through the uploads app's own action)."""
    import io

    from uploads.actions import create_upload

    def make(user, name: str = "notes.txt", content: bytes = b"meeting notes\n"):
        return create_upload(user, io.BytesIO(content), name)

    return make


@pytest.fixture
def moderator(make_user):
    """Staff in the `moderator` group the data migration creates: no superuser powers."""
    user = make_user("maud", display_name="Maud", is_staff=True)
    user.groups.add(Group.objects.get(name="moderator"))
    return user


@pytest.fixture
def plain_staff(make_user):
    """Staff who may look at messages, rooms, users and reports in admin, but is not a moderator."""
    user = make_user("stan", display_name="Stan", is_staff=True)
    codenames = ["view_message", "view_room", "view_roommember", "view_user", "view_report", "change_report"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def admin_client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def say():
    """Send a message through the real action; returns the Message row."""
    from chat import actions
    from chat.models import Message

    def send(user, room, body: str = "hello", **fields) -> Message:
        payload, _ = actions.send_message(user, room.id, body=body, **fields)
        return Message.objects.get(pk=payload["id"])

    return send
