from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class ConfabUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Confab", {"fields": ("display_name",)}))
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    search_fields = ("username", "display_name", "email")
