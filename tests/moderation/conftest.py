"""Moderators, non-moderator staff and admin clients for the moderation tests."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
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


def moderator_group() -> Group:
    """The group the data migration made; rebuilt the same way after a transactional test flushed it."""
    migration = importlib.import_module("moderation.migrations.0002_moderator_group")
    group, created = Group.objects.get_or_create(name=migration.GROUP_NAME)
    if created:
        query = Q()
        for app_label, model, codename in migration.PERMISSIONS:
            query |= Q(content_type__app_label=app_label, content_type__model=model, codename=codename)
        group.permissions.set(Permission.objects.filter(query))
    return group


@pytest.fixture
def moderator(make_user):
    """Staff in the `moderator` group: no superuser powers."""
    user = make_user("maud", display_name="Maud", is_staff=True)
    user.groups.add(moderator_group())
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
