"""The filesystem storage, counting what it is asked to delete (a spy on a real storage)."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage


class CountingFileSystemStorage(FileSystemStorage):
    deleted: list[str] = []  # every delete asked for, in order, repeats included

    def delete(self, name: str) -> None:
        type(self).deleted.append(name)
        super().delete(name)
