"""Create the benchmark's users, rooms, memberships, history and tokens (run by the harness).

Runs as ``python -m bench.seed --spec JSON --out FILE`` in the server's
environment, so it writes to the same database the server reads. Setup uses
bulk inserts (thousands of users in a second); the code under test is only
what the server does afterwards.
"""

from __future__ import annotations

from . import in_server


def main() -> None:
    in_server.main(
        lambda spec: seed(
            rooms=int(spec["rooms"]),
            members=int(spec["members"]),
            history=int(spec.get("history", 0)),
            prefix=str(spec.get("prefix", "bench")),
        )
    )


def seed(*, rooms: int, members: int, history: int, prefix: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from chat.models import Message, Room, RoomMember

    User = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(username=f"{prefix}{i}", display_name=f"Bench user {i}", password="!")
                for i in range(rooms * members)
            ],
            batch_size=2000,
        )
        if users and users[0].pk is None:  # backends that do not return ids from bulk_create
            users = list(User.objects.filter(username__startswith=prefix).order_by("id"))
        room_objs = Room.objects.bulk_create(
            [
                Room(kind=Room.Kind.GROUP, name=f"{prefix} room {r}", created_by=users[r * members], last_seq=history)
                for r in range(rooms)
            ]
        )
        memberships = []
        for r, room in enumerate(room_objs):
            for m in range(members):
                role = RoomMember.Role.OWNER if m == 0 else RoomMember.Role.MEMBER
                memberships.append(RoomMember(room=room, user=users[r * members + m], role=role, last_read_seq=history))
        RoomMember.objects.bulk_create(memberships, batch_size=5000)
        if history:
            messages = []
            for r, room in enumerate(room_objs):
                for seq in range(1, history + 1):
                    sender = users[r * members + (seq % members)]
                    body = f"history message {seq} of room {room.id}: the quick brown fox jumps over the lazy dog"
                    messages.append(
                        Message(
                            room=room, seq=seq, sender=sender, body=body, body_html=f"<p>{body}</p>", created_at=now
                        )
                    )
            Message.objects.bulk_create(messages, batch_size=5000)
            Room.objects.filter(pk__in=[r.pk for r in room_objs]).update(last_message_at=now)
    return {
        "rooms": [
            {
                "id": room.id,
                "members": [
                    {"user": users[r * members + m].id, "token": _access_token(users[r * members + m])}
                    for m in range(members)
                ],
            }
            for r, room in enumerate(room_objs)
        ]
    }


def _access_token(user) -> str:
    """An access token as the token endpoint issues it: of a token session (``sid``), under the user's
    generation (``gen``), so a connect checks the session as a real client's does."""
    try:
        from accounts.authentication import refresh_token_for
    except ImportError:  # a tree from before token sessions
        from rest_framework_simplejwt.tokens import AccessToken

        return str(AccessToken.for_user(user))
    return str(refresh_token_for(user).access_token)


if __name__ == "__main__":
    main()
