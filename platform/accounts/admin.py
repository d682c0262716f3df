from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class PleuraUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "validation_level", "is_active", "is_staff")
    list_filter = ("role", "validation_level", "is_active", "is_staff")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Pleura", {"fields": ("role", "validation_level")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Pleura", {"fields": ("role", "validation_level")}))
