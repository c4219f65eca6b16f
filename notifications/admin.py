from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "kind", "room", "message", "read_at", "created_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("recipient", "actor", "room", "message")
