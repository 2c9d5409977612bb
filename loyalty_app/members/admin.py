from django.contrib import admin

from .models import Member, MemberEvent


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


@admin.register(MemberEvent)
class MemberEventAdmin(admin.ModelAdmin):
    list_display = ("kind", "member", "shop", "created_at", "delivered_at")
    list_filter = ("kind", "shop")
    search_fields = ("member__external_id", "member__email", "key")
    list_select_related = ("shop", "member")
    readonly_fields = ("shop", "member", "kind", "key", "data", "created_at")
