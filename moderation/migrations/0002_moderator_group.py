"""The `moderator` group: what staff need to moderate in admin, and no more.

Moderators view messages, rooms, members, users and uploads, and act on them
only through the moderation actions (`chat.moderate_messages`); they change
reports (to close them) and read the audit log. They get no `change_user`:
that would let them edit groups and permissions.
"""

from django.db import migrations

GROUP_NAME = "moderator"
PERMISSIONS = [
    ("chat", "message", "moderate_messages"),
    ("chat", "message", "view_message"),
    ("chat", "room", "view_room"),
    ("chat", "roommember", "view_roommember"),
    ("chat", "reaction", "view_reaction"),
    ("accounts", "user", "view_user"),
    ("uploads", "upload", "view_upload"),
    ("moderation", "report", "view_report"),
    ("moderation", "report", "change_report"),
    ("moderation", "auditlog", "view_auditlog"),
]


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them
    # now so the group can hold them on a fresh database.
    from django.contrib.auth.management import create_permissions

    for app_label in {app for app, _, _ in PERMISSIONS}:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    for app_label, model, codename in PERMISSIONS:
        permission = Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename)
        group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("chat", "0001_initial"),
        ("uploads", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
