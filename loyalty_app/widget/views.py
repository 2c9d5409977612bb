"""The widget's JSON endpoints, reached through the storefront proxy (``/proxy/...`` here,
``/apps/loyalty/...`` on the shop's storefront).

Every request is authenticated by the platform (``auth.shopper_identity``: on Shopify the
app proxy's signature); a request without that proof gets 401. The customer is the one
the identity names; no parameter or body field can choose another. Each request counts
against a limit per customer and per shop (429 with ``Retry-After`` beyond it). Posts
take JSON only: a cross-site form cannot send it, so another site cannot make a
logged-in shopper's browser join or redeem.

These endpoints are for the widget, not the merchant API: they stay out of its OpenAPI
schema.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.redemption import RedemptionConflict, RedemptionRefused

from . import selectors, services
from .auth import ShopperAuthFailed, ShopperIdentity, platform_port, shopper_identity
from .ratelimit import rate_limit_hit

MAX_PRICE = Decimal("1000000000")


class AppProxyAuthentication(authentication.BaseAuthentication):
    """The platform's proof that it forwarded the request; ``request.auth`` is the
    ``ShopperIdentity``."""

    def authenticate(self, request: Request) -> tuple[None, ShopperIdentity]:
        try:
            return None, shopper_identity(request._request)
        except ShopperAuthFailed as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc

    def authenticate_header(self, request: Request) -> str:
        return "AppProxy"  # a 401, not a 403, for a request without the proof


class HasShopperIdentity(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ShopperIdentity)


class WidgetRateThrottle(BaseThrottle):
    """One request counted per customer (logged in) and per shop."""

    def allow_request(self, request: Request, view: Any) -> bool:
        identity: ShopperIdentity = request.auth
        self.retry_after: int | None = None
        checks = [("shop", str(identity.shop.pk))]
        if identity.customer_id:
            checks.insert(0, ("customer", f"{identity.shop.pk}:{identity.customer_id}"))
        for scope, key in checks:
            limited = rate_limit_hit(scope=scope, key=key)
            if limited is not None:
                self.retry_after = limited.retry_after
                return False
        return True

    def wait(self) -> float | None:
        return self.retry_after


class WidgetApi(APIView):
    authentication_classes = [AppProxyAuthentication]
    permission_classes = [HasShopperIdentity]
    throttle_classes = [WidgetRateThrottle]
    parser_classes = [JSONParser]

    def throttled(self, request: Request, wait: float | None) -> None:
        raise exceptions.Throttled(wait, detail="Too many requests. Please try again shortly.")

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Personal, and different for every customer behind the same storefront URL.
        response["Cache-Control"] = "no-store, private"
        return response

    @staticmethod
    def identity(request: Request) -> ShopperIdentity:
        identity: ShopperIdentity = request.auth
        return identity

    @staticmethod
    def member_or_403(identity: ShopperIdentity) -> Member:
        member = selectors.widget_member(shop=identity.shop, customer_id=identity.customer_id)
        if member is None:
            raise NotMember()
        return member


class PointsUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The points for this product cannot be shown right now."
    default_code = "unavailable"


class NotMember(exceptions.PermissionDenied):
    default_detail = "Join the rewards program first."
    default_code = "not_member"


def _state(identity: ShopperIdentity) -> dict[str, Any]:
    state = selectors.widget_state(shop=identity.shop, customer_id=identity.customer_id, at=now())
    state["path_prefix"] = identity.path_prefix
    return state


@extend_schema(exclude=True)
class StateApi(WidgetApi):
    """Everything the panel shows: the program for a guest, a member's standing."""

    def get(self, request: Request) -> Response:
        return Response(_state(self.identity(request)))


@extend_schema(exclude=True)
class JoinApi(WidgetApi):
    """Join the program: a logged-in customer with one click, a guest with an email."""

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, required=False)

    def post(self, request: Request) -> Response:
        identity = self.identity(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if identity.customer_id:
            joined = services.widget_join_customer(
                shop=identity.shop, customer_id=identity.customer_id
            )
            body = _state(identity)
            body["joined"] = {"created": joined.created, "points": joined.points}
            code = status.HTTP_201_CREATED if joined.created else status.HTTP_200_OK
            return Response(body, status=code)
        email = data.validated_data.get("email")
        if not email:
            raise exceptions.ValidationError({"email": ["Enter your email address to join."]})
        limited = rate_limit_hit(scope="guest_join", key=str(identity.shop.pk))
        if limited is not None:
            raise exceptions.Throttled(
                limited.retry_after, detail="Too many requests. Please try again shortly."
            )
        services.widget_join_email(shop=identity.shop, email=email)
        # The same answer whether the email was new or known: the form reveals nobody.
        return Response(
            {
                "joined": {"email": email},
                "message": "You're in! Log in or create an account with this email "
                "to see your points.",
            },
            status=status.HTTP_201_CREATED,
        )


@extend_schema(exclude=True)
class BirthdayApi(WidgetApi):
    """Tell the shop the member's birthday (once): the birthday points come on the day."""

    class InputSerializer(serializers.Serializer):
        month = serializers.IntegerField(min_value=1, max_value=12)
        day = serializers.IntegerField(min_value=1, max_value=31)

    def post(self, request: Request) -> Response:
        identity = self.identity(request)
        member = self.member_or_403(identity)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.widget_birthday_set(member=member, **data.validated_data)
        except services.BirthdayAlreadySet as exc:
            raise exceptions.ValidationError(
                {"birthday": ["Your birthday is already saved. Contact the shop to change it."]}
            ) from exc
        except ValueError as exc:
            raise exceptions.ValidationError({"day": ["That day does not exist."]}) from exc
        return Response(_state(identity))


@extend_schema(exclude=True)
class ProductPointsApi(WidgetApi):
    """ "Earn N points with this purchase" for one product at its price."""

    class InputSerializer(serializers.Serializer):
        product_id = serializers.RegexField(r"^[0-9]{1,20}$", required=False, default="")
        price = serializers.DecimalField(
            max_digits=16, decimal_places=4, min_value=Decimal(0), max_value=MAX_PRICE
        )

    def get(self, request: Request) -> Response:
        identity = self.identity(request)
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        port = platform_port()
        try:
            points = selectors.product_points(
                shop=identity.shop,
                customer_id=identity.customer_id,
                product_id=data.validated_data["product_id"],
                price=data.validated_data["price"],
                at=now(),
                facts=port.lines_with_product_facts if identity.shop.uses_product_facts else None,
            )
        except port.PlatformUnavailable as exc:
            raise PointsUnavailable() from exc
        name = selectors.shop_program(shop=identity.shop).program.points_name
        return Response(
            {
                "points": points,
                "text": f"Earn {name.amount(points)} with this purchase" if points else "",
            }
        )


@extend_schema(exclude=True)
class RedeemApi(WidgetApi):
    """Spend points on a reward: the code at once, or the reason it was refused.

    The widget makes one idempotency key per attempt and sends it again when it retries,
    so a retried request (a dropped answer, a double click) spends nothing more."""

    class InputSerializer(serializers.Serializer):
        reward_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        idempotency_key = serializers.RegexField(r"^[A-Za-z0-9_.:-]{8,100}$")
        points = serializers.IntegerField(min_value=1, max_value=10**9, required=False)

    def post(self, request: Request) -> Response:
        identity = self.identity(request)
        member = self.member_or_403(identity)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            redemption, created = services.widget_redeem(
                shop=identity.shop,
                member=member,
                reward_id=values["reward_id"],
                idempotency_key=values["idempotency_key"],
                points=values.get("points"),
            )
        except RedemptionRefused as exc:
            return Response(
                {
                    "error": services.refusal_message(
                        exc,
                        member=member,
                        name=selectors.shop_program(shop=identity.shop).program.points_name,
                    ),
                    "code": exc.code,
                },
                status=status.HTTP_409_CONFLICT,
            )
        except RedemptionConflict:
            return Response(
                {
                    "error": "This request was already used for another reward. Please try again.",
                    "code": "idempotency_conflict",
                },
                status=status.HTTP_409_CONFLICT,
            )
        except Reward.DoesNotExist as exc:
            raise exceptions.NotFound("This reward is no longer available.") from exc
        body = _state(identity)
        body["redemption"] = selectors.redemption_data(redemption)
        body["redemption"]["message"] = services.redemption_message(
            redemption, name=selectors.shop_program(shop=identity.shop).program.points_name
        )
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
