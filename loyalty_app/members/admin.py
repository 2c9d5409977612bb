from django.contrib import admin

from .models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "email",
        "first_name",
        "last_name",
        "points_balance",
        "shop",
        "created_at",
    )
    list_filter = ("shop",)
    search_fields = ("external_id", "email", "first_name", "last_name")
    list_select_related = ("shop",)
    # The balance moves only with ledger entries (adjust through the API).
    readonly_fields = ("shop", "external_id", "points_balance", "created_at", "updated_at")
