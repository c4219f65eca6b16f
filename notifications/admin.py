from django.contrib import admin
from django.utils import timezone

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "kind", "actor", "room", "message", "read_at", "created_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    list_select_related = ("recipient", "actor", "room", "message")
    search_fields = ("recipient__username", "actor__username")
    raw_id_fields = ("recipient", "actor", "room", "message")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    actions = ("mark_read",)

    @admin.action(description="Mark selected notifications read")
    def mark_read(self, request, queryset) -> None:
        marked = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(request, f"{marked} notification(s) marked read.")
