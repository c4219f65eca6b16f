from django.contrib import admin
from django.utils.html import format_html

from .models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "original_name", "owner", "content_type", "size", "preview", "message", "created_at")
    list_filter = ("content_type",)
    search_fields = ("original_name", "owner__username", "sha256")
    raw_id_fields = ("owner", "message")
    readonly_fields = ("sha256", "size", "width", "height", "created_at", "preview")

    @admin.display(description="Preview")
    def preview(self, obj: Upload) -> str:
        if not obj.thumbnail:
            return "-"
        return format_html('<img src="/api/v1/uploads/{}/thumbnail/" alt="" style="max-height:60px">', obj.pk)
