"""Stored files follow their rows: when an upload row is deleted, its files go too.

Rows are deleted by the admin, by cascades (a deleted user, a message purged
by the retention job) and by the cleanup command; Django's FileField leaves
files behind in every case. The files are deleted after the commit, so a
rolled-back delete keeps them (``uploads.actions.delete_files_after_commit``).
"""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .actions import delete_files_after_commit, stored_names
from .models import Upload


@receiver(post_delete, sender=Upload, dispatch_uid="uploads.delete_files_with_row")
def delete_files_with_row(sender, instance: Upload, **kwargs) -> None:
    delete_files_after_commit(stored_names(instance))
