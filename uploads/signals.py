"""Stored files follow their rows: when an upload row is deleted, its files go too.

Rows are deleted by the admin, by cascades (a deleted user, a message purged
by the retention job) and by the cleanup command; Django's FileField leaves
files behind in every case. The files are deleted after the commit, so a
rolled-back delete keeps them.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Upload


@receiver(post_delete, sender=Upload, dispatch_uid="uploads.delete_files_with_row")
def delete_files_with_row(sender, instance: Upload, **kwargs) -> None:
    names = [name for name in (instance.file.name, instance.thumbnail.name) if name]
    if not names:
        return

    def delete() -> None:
        from .actions import delete_stored_files

        delete_stored_files(names)

    transaction.on_commit(delete)
