"""Joining, birthdays, product points, tenancy and rate limits through the widget."""

from __future__ import annotations

from loyalty_app.earning.services import campaign_save, program_update
from loyalty_app.members.models import Member

from .conftest import member_with_points

SIGNUP = {"actions": [{"key": "signup", "points": 100}, {"key": "birthday", "points": 200}]}


def test_a_logged_in_customer_joins_with_one_click_and_earns_the_signup_points(
    proxy, shop, widget_on
):
    program_update(shop=shop.shop, data=SIGNUP, actor="t")

    response = proxy.post("join", {}, customer="7001")

    assert response.status_code == 201
    body = response.json()
    assert body["joined"] == {"created": True, "points": 100}
    assert body["member"]["balance"] == 100


def test_joining_twice_creates_one_member_and_earns_once(proxy, shop, widget_on):
    program_update(shop=shop.shop, data=SIGNUP, actor="t")
    proxy.post("join", {}, customer="7001")

    again = proxy.post("join", {}, customer="7001")

    assert again.status_code == 200
    assert again.json()["member"]["balance"] == 100
    assert Member.objects.filter(shop=shop.shop).count() == 1


def test_a_logged_in_customer_cannot_join_as_an_email_of_someone_else(proxy, shop, widget_on):
    # given an email-only member with points
    Member.objects.create(shop=shop.shop, email="ada@example.com", points_balance=0)

    # when a logged-in customer joins and sends that email along
    response = proxy.post("join", {"email": "ada@example.com"}, customer="7002")

    # then they join as themselves; the email-only member is untouched
    assert response.status_code == 201
    assert Member.objects.get(shop=shop.shop, external_id="7002").email == ""
    assert Member.objects.filter(shop=shop.shop, external_id__isnull=True).count() == 1


def test_a_guest_joins_with_an_email(proxy, shop, widget_on):
    program_update(shop=shop.shop, data=SIGNUP, actor="t")

    response = proxy.post("join", {"email": "new@example.com"})

    assert response.status_code == 201
    assert "member" not in response.json()
    member = Member.objects.get(shop=shop.shop, email="new@example.com")
    assert member.points_balance == 100


def test_a_guest_joining_with_a_members_email_learns_nothing_about_them(proxy, shop, widget_on):
    member_with_points(shop.shop, "7001", 900, email="ada@example.com")

    known = proxy.post("join", {"email": "ada@example.com"}).json()
    unknown = proxy.post("join", {"email": "someone@example.com"}).json()

    assert known.keys() == unknown.keys()
    assert known["message"] == unknown["message"]
    assert "900" not in str(known)


def test_a_guest_without_an_email_is_told_to_enter_one(proxy, shop, widget_on):
    response = proxy.post("join", {})
    assert response.status_code == 400
    assert response.json()["fields"]["email"] == ["Enter your email address to join."]


def test_a_form_post_is_refused(client, proxy, shop, widget_on):
    # A cross-site form can send urlencoded bodies only: the endpoints take JSON.
    response = client.post(proxy.url("join"), data={"email": "x@example.com"})
    assert response.status_code == 415
    assert not Member.objects.filter(shop=shop.shop).exists()


def test_a_member_sets_a_birthday_once(proxy, shop, widget_on):
    program_update(shop=shop.shop, data=SIGNUP, actor="t")
    member_with_points(shop.shop, "7001", 0)

    first = proxy.post("birthday", {"month": 2, "day": 29}, customer="7001")
    second = proxy.post("birthday", {"month": 3, "day": 1}, customer="7001")

    assert first.status_code == 200
    birthday = next(a for a in first.json()["actions"] if a["key"] == "birthday")
    assert birthday["birthday"] == "02-29"
    assert second.status_code == 400
    assert Member.objects.get(external_id="7001").birthday_month == 2


def test_a_birthday_that_does_not_exist_is_refused(proxy, shop, widget_on):
    member_with_points(shop.shop, "7001", 0)
    response = proxy.post("birthday", {"month": 4, "day": 31}, customer="7001")
    assert response.status_code == 400
    assert Member.objects.get(external_id="7001").birthday_month is None


def test_a_guest_cannot_set_a_birthday(proxy, shop, widget_on):
    response = proxy.post("birthday", {"month": 4, "day": 3})
    assert response.status_code == 403
    assert response.json()["error"] == "Join the rewards program first."


def test_a_product_page_shows_the_points_of_the_purchase(proxy, shop, widget_on):
    program_update(shop=shop.shop, data={"points_per_unit": "2"}, actor="t")

    response = proxy.get("product-points", product_id="9300000000", price="24.50")

    assert response.status_code == 200
    assert response.json() == {"points": 49, "text": "Earn 49 points with this purchase"}


def test_product_points_follow_the_campaigns_in_force(proxy, shop, widget_on, clock):
    campaign_save(
        shop=shop.shop,
        data={
            "name": "Triple",
            "kind": "multiplier",
            "multiplier": "3",
            "starts_at": "2025-01-01T00:00:00",
            "ends_at": "2025-02-01T00:00:00",
        },
    )
    body = proxy.get("product-points", product_id="1", price="10.00").json()
    assert body["points"] == 30


def test_a_product_price_that_is_not_a_price_is_400(proxy, shop, widget_on):
    response = proxy.get("product-points", product_id="1", price="free")
    assert response.status_code == 400


def test_a_customer_of_one_shop_is_not_a_member_of_another(proxy, shop, other_shop, widget_on):
    # given customer 7001 is a member with points in the other shop only
    member_with_points(other_shop.shop, "7001", 800)

    # when customer 7001 opens the widget in this shop
    body = proxy.get("state", customer="7001").json()

    # then they are not a member here, and the other shop's balance shows nowhere
    assert body["customer"]["member"] is False
    assert "800" not in str(body)
    assert proxy.post("birthday", {"month": 1, "day": 2}, customer="7001").status_code == 403


def test_a_shop_sees_its_own_rewards_only(proxy, shop, other_shop, widget_on):
    from loyalty_app.rewards.services import reward_create

    reward_create(
        shop=other_shop.shop,
        data={"kind": "free_shipping", "title": "Theirs", "points_cost": 10},
        actor="t",
    )
    assert proxy.get("state").json()["rewards"] == []


def test_a_customer_over_the_limit_gets_429_with_retry_after(proxy, shop, widget_on, settings):
    settings.WIDGET_RATE_LIMITS = {"customer": (3, 60)}
    answers = [proxy.get("state", customer="7001").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    limited = proxy.get("state", customer="7001")
    assert 1 <= int(limited["Retry-After"]) <= 61
    # another customer of the same shop is not limited by the first one's requests
    assert proxy.get("state", customer="7002").status_code == 200


def test_a_shop_over_its_limit_gets_429(proxy, shop, other_shop, widget_on, settings):
    settings.WIDGET_RATE_LIMITS = {"shop": (2, 60)}
    answers = [proxy.get("state").status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    # another shop has its own count
    assert proxy.get("state", shop=other_shop.shop.domain).status_code == 200


def test_guest_joins_have_a_tighter_limit(proxy, shop, widget_on, settings):
    settings.WIDGET_RATE_LIMITS = {"guest_join": (1, 60)}
    assert proxy.post("join", {"email": "a@example.com"}).status_code == 201
    assert proxy.post("join", {"email": "b@example.com"}).status_code == 429
    assert not Member.objects.filter(email="b@example.com").exists()


def test_a_shop_that_has_not_turned_the_widget_on_answers_enabled_false(proxy, shop):
    # The script reads this and shows nothing on the storefront.
    response = proxy.get("state")
    assert response.status_code == 200
    assert response.json()["settings"]["enabled"] is False
