"""The simulator's storefront: pages with the widget, and the app proxy that signs and
forwards ``/apps/loyalty/...`` as Shopify's does."""

from __future__ import annotations

from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings

STORE = "/devstore/alpha-store.myshopify.com"


def test_the_storefront_lists_products_with_the_widget_loaded_deferred(client, shop):
    response = client.get(f"{STORE}/store/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "House Blend Coffee 1kg" in html
    assert 'src="/static/widget/widget.js" defer' in html
    assert f'data-proxy="{STORE}/apps/loyalty"' in html


def test_a_product_page_has_the_points_element(client, shop):
    response = client.get(f"{STORE}/store/products/9300000000")
    html = response.content.decode()
    assert 'data-loyalty-product-points data-product-id="9300000000" data-price="24.00"' in html


def test_an_unknown_product_is_404(client, shop):
    assert client.get(f"{STORE}/store/products/1").status_code == 404


def test_the_proxy_forwards_a_guest_signed_with_no_customer(client, shop):
    WidgetSettings.objects.create(shop=shop.shop, enabled=True)
    response = client.get(f"{STORE}/apps/loyalty/state")
    assert response.status_code == 200
    assert response.json()["customer"] == {"logged_in": False, "member": False}
    assert response.json()["path_prefix"] == "/apps/loyalty"


def test_the_simulated_login_is_the_customer_the_proxy_signs_for(client, shop):
    # given customer 7001 is a member and the shopper logs in as them on the storefront
    Member.objects.create(shop=shop.shop, external_id="7001", email="ada@example.com")
    client.get(f"{STORE}/store/?customer=7001")

    # when the widget asks through the proxy
    body = client.get(f"{STORE}/apps/loyalty/state").json()

    # then the app sees that customer
    assert body["customer"] == {"logged_in": True, "member": True}


def test_the_shoppers_query_cannot_name_the_customer(client, shop):
    Member.objects.create(shop=shop.shop, external_id="7001", email="ada@example.com")
    response = client.get(f"{STORE}/apps/loyalty/state?logged_in_customer_id=7001")
    assert response.json()["customer"]["logged_in"] is False


def test_logging_out_makes_the_shopper_a_guest_again(client, shop):
    client.get(f"{STORE}/store/?customer=7001")
    client.get(f"{STORE}/store/?customer=")
    assert client.get(f"{STORE}/apps/loyalty/state").json()["customer"]["logged_in"] is False


def test_posts_are_forwarded_with_their_body(client, shop):
    client.get(f"{STORE}/store/?customer=7005")
    response = client.post(f"{STORE}/apps/loyalty/join", data="{}", content_type="application/json")
    assert response.status_code == 201
    assert Member.objects.filter(shop=shop.shop, external_id="7005").exists()


def test_a_discount_link_keeps_the_code_for_the_cart(client, shop):
    response = client.get(f"{STORE}/store/discount/LOYAL-ABCD-EFGH")
    assert response.status_code == 302
    page = client.get(f"{STORE}/store/").content.decode()
    assert "Discount code <strong>LOYAL-ABCD-EFGH</strong> will be applied at checkout." in page
