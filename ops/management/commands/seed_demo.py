"""Demo data for a fresh laptop install: `make demo`.

Users with known passwords (printed), a public and a private room and a
direct conversation, with messages, a reply, reactions and a pin, all made
through ``chat.actions`` so they look exactly like live use. Idempotent: a
second run resets the demo passwords and adds nothing else.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat import actions
from chat.models import Room

User = get_user_model()

PASSWORD = "confab-demo"
USERS = [
    ("ann", "Ann Archer"),
    ("bob", "Bob Baker"),
    ("cat", "Cat Carter"),
    ("dan", "Dan Dawson"),
]
MODERATOR = ("mod", "Maud the Moderator")
# A fixed namespace: the same demo message always has the same client id.
NAMESPACE = uuid.UUID("6b1f2f0e-4a53-4c1e-9d1f-0c0f0b0de000")

GENERAL = [
    ("ann", "Welcome to **Confab**! This is the public room everyone can join."),
    ("bob", "Hi all :wave: glad to be here"),
    ("cat", "Quick tip: `Enter` sends, `Shift+Enter` makes a new line."),
    ("dan", "Is there a place for design talk?"),
    ("ann", "Yes, @dan: ask me to add you to *Design*."),
]
DESIGN = [
    ("ann", "Kick-off: the new room list."),
    ("bob", "```\nsidebar: 280px\nunread badge: right-aligned\n```"),
    ("cat", "Looks good. Ship it?"),
]
DIRECT = [
    ("bob", "Hey Ann, got a minute?"),
    ("ann", "Sure, what's up?"),
]


class Command(BaseCommand):
    help = "Create demo users (passwords printed), rooms and messages. Idempotent. Refuses to run unless DEBUG."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off (never in production).")

    def handle(self, *args, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with known passwords: it runs only with DEBUG=1 (or --force).")
        with transaction.atomic():
            users, created_users = self.seed_users()
        rooms_created, messages = 0, 0
        general, created = self.group_room(users["ann"], "General", "Say hello", True, list(users.values()))
        if created:
            rooms_created += 1
            messages += self.post(general.id, users, GENERAL, reply_to_index=(4, 3), pin_index=0)
        design, created = self.group_room(
            users["ann"], "Design", "Pixels and flows", False, [users["bob"], users["cat"]]
        )
        if created:
            rooms_created += 1
            messages += self.post(design.id, users, DESIGN)
        direct, created = actions.get_or_create_direct_room(users["bob"], users["ann"].id)
        if created:
            rooms_created += 1
            messages += self.post(direct["id"], users, DIRECT)

        self.stdout.write(f"Demo users (password for all: {PASSWORD}):")
        for username, display_name in [*USERS, MODERATOR]:
            role = " (moderator: /admin/)" if username == MODERATOR[0] else ""
            self.stdout.write(f"  {username:<5} {display_name}{role}")
        self.stdout.write(
            f"Seeded demo: {created_users} user(s) created, {rooms_created} room(s) created, "
            f"{messages} message(s) sent."
        )

    def seed_users(self) -> tuple[dict, int]:
        users = {}
        created_count = 0
        for username, display_name in [*USERS, MODERATOR]:
            user, created = User.objects.get_or_create(username=username, defaults={"display_name": display_name})
            user.set_password(PASSWORD)
            user.is_active = True
            if username == MODERATOR[0]:
                user.is_staff = True
            user.save()
            created_count += created
            users[username] = user
        group = Group.objects.filter(name="moderator").first()
        if group is not None:
            users[MODERATOR[0]].groups.add(group)
        return users, created_count

    def group_room(self, owner, name: str, topic: str, is_public: bool, members: list) -> tuple[Room, bool]:
        room = Room.objects.filter(kind=Room.Kind.GROUP, name=name, created_by=owner, archived=False).first()
        if room is not None:
            return room, False
        member_ids = [m.id for m in members if m.id != owner.id and m.username != MODERATOR[0]]
        payload = actions.create_group_room(owner, name=name, topic=topic, is_public=is_public, members=member_ids)
        return Room.objects.get(pk=payload["id"]), True

    def post(self, room_id: int, users: dict, script, *, reply_to_index=None, pin_index=None) -> int:
        ids = []
        for index, (username, body) in enumerate(script):
            reply_to = None
            if reply_to_index and index == reply_to_index[0]:
                reply_to = ids[reply_to_index[1]]
            message, _ = actions.send_message(
                users[username],
                room_id,
                body=body,
                client_id=str(uuid.uuid5(NAMESPACE, f"{room_id}:{index}")),
                reply_to=reply_to,
            )
            ids.append(message["id"])
        if len(ids) > 1:
            # The first speaker reacts to the second message.
            actions.set_reaction(users[script[0][0]], ids[1], "👍", True)
        if pin_index is not None:
            actions.set_pinned(users[script[pin_index][0]], ids[pin_index], True)
        return len(ids)
