from django.contrib import admin

from .models import ApiToken, Shop


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "currency", "state", "created_at")
    search_fields = ("domain", "name")
    list_filter = ("state",)
    readonly_fields = ("created_at", "installed_at", "uninstalled_at")
    exclude = ("access_token_encrypted",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("shop", "name", "created_at", "revoked_at")
    list_filter = ("shop",)
    readonly_fields = ("shop", "digest", "created_at")
