"""The friend's landing page, reached through the shop's app proxy:
``https://<shop>/apps/loyalty/r/<code>`` (``/proxy/r/<code>`` here).

GET shows the offer ("Ada sent you 10 USD off your first order") and asks for the
friend's email; POST (a plain form: the proxy strips cookies, and a forged post could
only do what anyone can do on the page) hands out the welcome code or says why not. Each
request must carry the platform's proof (the app proxy's signature); claims count
against the shop's guest-join rate limit.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from loyalty_app.widget.auth import ShopperAuthFailed, shopper_identity
from loyalty_app.widget.ratelimit import rate_limit_hit

from .selectors import program_settings, referral_code_by_code, referral_program_get
from .services import InviteRefused, referral_invite


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, "referrals/landing.html", context, status=status)
    response["Cache-Control"] = "no-store, private"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def landing(request: HttpRequest, code: str) -> HttpResponse:
    try:
        identity = shopper_identity(request)
    except ShopperAuthFailed:
        return HttpResponse("This page opens from the shop's own site.", status=401)
    shop = identity.shop
    program = referral_program_get(shop=shop)
    referrer_code = referral_code_by_code(shop=shop, code=code)
    name = shop.name or shop.domain
    if program is None or not program.enabled or referrer_code is None:
        return _page(
            request,
            {"shop_name": name, "invalid": True, "message": "This referral link is not valid."},
            status=404,
        )
    config = program_settings(program)
    referrer = referrer_code.member
    context = {
        "shop_name": name,
        "referrer_name": referrer.first_name or "A friend",
        "offer": config.friend_offer(currency=shop.currency),
        "days_valid": config.friend_days_valid,
        "email": "",
    }
    if request.method != "POST":
        return _page(request, context)
    email = request.POST.get("email", "").strip()[:254]
    context["email"] = email
    try:
        validate_email(email)
    except ValidationError:
        context["error"] = "Enter a valid email address."
        return _page(request, context, status=400)
    limited = rate_limit_hit(scope="guest_join", key=f"referral:{shop.pk}")
    if limited is not None:
        context["error"] = "Too many requests. Please try again in a minute."
        response = _page(request, context, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    try:
        invite = referral_invite(shop=shop, code=code, email=email)
    except InviteRefused as exc:
        context["error"] = exc.message
        context["refused"] = exc.code
        return _page(request, context, status=409 if exc.code != "not_found" else 404)
    context["welcome_code"] = invite.referral.welcome_code
    context["offer"] = invite.offer_text or context["offer"]
    context["expires_at"] = invite.referral.welcome_expires_at
    return _page(request, context, status=201 if invite.created else 200)
