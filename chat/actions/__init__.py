"""Every state change of rooms, members, messages and reactions, by topic.

Each action is a ``check_*`` and a ``do_*`` (the model is Zulip's
zerver/actions): ``check_x(user, raw input...)`` checks access, parses and
validates, raising ``ActionError`` and changing nothing; ``do_x(checked)``
takes what the check returned, writes in ONE transaction and publishes its
events after commit, with no permission checks. The public entry point ``x``
is ``do_x(check_x(...))``, so REST, the socket, commands, the admin and the
moderation tools reach the one ``do_x`` through its one ``check_x``. The
database is the truth; the channel layer only says "something new".
"""

from chat.changes import mark_message_changed

from .access import Audit, get_membership, get_visible_message, is_moderator, moderator_power_used
from .commands import BUILT_INS, COMMAND_NAME, CommandRun, literal_body, register_command_resolver
from .members import (
    MemberAddition,
    add_member,
    check_add_member,
    check_join_room,
    check_leave_room,
    check_membership_settings,
    check_remove_member,
    do_add_member,
    do_join_room,
    do_leave_room,
    do_remove_member,
    do_update_membership_settings,
    join_room,
    leave_room,
    remove_member,
    update_membership_settings,
)
from .messages import (
    MessageChange,
    MessageEdit,
    PurgedMessages,
    check_delete_message,
    check_edit_message,
    check_restore_message,
    check_set_pinned,
    delete_message,
    do_delete_message,
    do_edit_message,
    do_purge_messages,
    do_restore_message,
    do_set_pinned,
    edit_message,
    restore_message,
    set_pinned,
)
from .reactions import check_set_reaction, do_set_reaction, set_reaction
from .read import check_mark_as_read, do_mark_as_read, mark_as_read
from .room_commands import resolve_room_command  # registers the built-ins that are other actions, first
from .rooms import (
    archive_room,
    check_archive_room,
    check_create_group_room,
    check_direct_room,
    check_update_room,
    create_group_room,
    do_archive_room,
    do_create_group_room,
    do_get_or_create_direct_room,
    do_update_room,
    get_or_create_direct_room,
    update_room,
)
from .send import OutgoingMessage, check_send_message, do_send_message, send_message
from .threads import follow_thread, mark_thread_read, thread_root_for

__all__ = [
    "BUILT_INS",
    "COMMAND_NAME",
    "Audit",
    "CommandRun",
    "MemberAddition",
    "MessageChange",
    "MessageEdit",
    "OutgoingMessage",
    "PurgedMessages",
    "add_member",
    "archive_room",
    "check_add_member",
    "check_archive_room",
    "check_create_group_room",
    "check_delete_message",
    "check_direct_room",
    "check_edit_message",
    "check_join_room",
    "check_leave_room",
    "check_mark_as_read",
    "check_membership_settings",
    "check_remove_member",
    "check_restore_message",
    "check_send_message",
    "check_set_pinned",
    "check_set_reaction",
    "check_update_room",
    "create_group_room",
    "delete_message",
    "do_add_member",
    "do_archive_room",
    "do_create_group_room",
    "do_delete_message",
    "do_edit_message",
    "do_get_or_create_direct_room",
    "do_join_room",
    "do_leave_room",
    "do_purge_messages",
    "do_mark_as_read",
    "do_remove_member",
    "do_restore_message",
    "do_send_message",
    "do_set_pinned",
    "do_set_reaction",
    "do_update_membership_settings",
    "do_update_room",
    "edit_message",
    "follow_thread",
    "get_membership",
    "get_or_create_direct_room",
    "get_visible_message",
    "is_moderator",
    "join_room",
    "leave_room",
    "literal_body",
    "mark_as_read",
    "mark_message_changed",
    "mark_thread_read",
    "moderator_power_used",
    "register_command_resolver",
    "remove_member",
    "resolve_room_command",
    "restore_message",
    "send_message",
    "set_pinned",
    "set_reaction",
    "thread_root_for",
    "update_membership_settings",
    "update_room",
]
