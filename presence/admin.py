from django.contrib import admin

from .models import Presence


@admin.register(Presence)
class PresenceAdmin(admin.ModelAdmin):
    list_display = ("user", "status", "status_text", "last_seen")
    list_filter = ("status",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
