"""A merchant awards an in-store event's attendance from a CSV: upload, preview, confirm,
and the member's balance shows the points."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member

from .conftest import app_frame, screenshot, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = "email,customer_id\nada@example.com,\n,7002\nnot-an-email,\n"


def test_a_merchant_uploads_previews_and_confirms_a_bulk_award(
    page, installed_shop, embedded_app, tmp_path
):
    program_update(
        shop=installed_shop,
        data={
            "actions": [{"key": "store_event", "name": "Attended the store event", "points": 40}]
        },
        actor="t",
    )
    ada = Member.objects.create(shop=installed_shop, external_id="7001", email="ada@example.com")
    Member.objects.create(shop=installed_shop, external_id="7002", email="bob@example.com")
    csv_file = tmp_path / "store-event.csv"
    csv_file.write_text(CSV)

    # upload
    page.goto(store_admin_url(embedded_app, "actions/bulk/"))
    app = app_frame(page)
    app.get_by_label("Action").select_option("store_event")
    app.get_by_label("CSV file").set_input_files(str(csv_file))
    app.get_by_test_id("bulk-preview").click()

    # preview: two lines earn, one is refused with its reason
    expect(app.get_by_test_id("bulk-valid")).to_have_text("2")
    expect(app.get_by_test_id("bulk-invalid")).to_have_text("1")
    expect(app.get_by_test_id("bulk-issues")).to_contain_text("email: is not a valid email address")
    screenshot(page, "bulk-award-preview")
    assert Member.objects.get(pk=ada.pk).points_balance == 0

    # confirm
    page.once("dialog", lambda dialog: dialog.accept())
    app.get_by_test_id("bulk-confirm").click()
    expect(app.get_by_test_id("bulk-status")).to_have_text("Done")
    expect(app.get_by_test_id("bulk-awarded")).to_have_text("2")
    screenshot(page, "bulk-award-done")

    # the member's balance
    page.goto(store_admin_url(embedded_app, f"customers/{ada.pk}/"))
    expect(app_frame(page).get_by_test_id("member-balance")).to_have_text("40")
