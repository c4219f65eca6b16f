"""Admin for uploads: thumbnails in the list and the form, and the moderators' removal.

Rows are made through the API only (the checks and the image processing live
there), so adding is switched off. Deleting a row deletes its files (see
``uploads.signals``); "Remove" keeps the row as a record and tells the room.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.errors import ActionError

from .actions import remove_upload
from .models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "preview",
        "original_name",
        "owner",
        "content_type",
        "size",
        "dimensions",
        "message",
        "removed_at",
        "created_at",
    )
    list_filter = ("content_type", ("message", admin.EmptyFieldListFilter), ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("original_name", "owner__username", "sha256")
    raw_id_fields = ("owner", "message")
    readonly_fields = (
        "preview_large",
        "file",
        "thumbnail",
        "content_type",
        "sha256",
        "size",
        "width",
        "height",
        "removed_at",
        "created_at",
    )
    list_select_related = ("owner", "message")
    date_hierarchy = "created_at"
    actions = ["remove_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Preview")
    def preview(self, obj: Upload) -> str:
        return self._thumbnail(obj, 60)

    @admin.display(description="Preview")
    def preview_large(self, obj: Upload) -> str:
        return self._thumbnail(obj, 300)

    def _thumbnail(self, obj: Upload, height: int) -> str:
        if not obj.thumbnail or obj.removed_at:
            return "-"
        url = reverse("upload-thumbnail", args=[obj.pk])
        return format_html('<img src="{}" alt="" loading="lazy" style="max-height:{}px">', url, height)

    @admin.display(description="Size (px)")
    def dimensions(self, obj: Upload) -> str:
        return f"{obj.width}×{obj.height}" if obj.width else "-"

    @admin.action(description="Remove selected uploads (moderation: delete the files, tell the rooms)")
    def remove_selected(self, request, queryset) -> None:
        removed = 0
        for upload_id in queryset.filter(removed_at__isnull=True).values_list("pk", flat=True):
            try:
                remove_upload(request.user, upload_id, reason="removed in the admin")
            except ActionError as error:
                self.message_user(request, f"Upload {upload_id}: {error.message}", messages.ERROR)
                return
            removed += 1
        self.message_user(request, f"Removed {removed} upload(s).", messages.SUCCESS)
