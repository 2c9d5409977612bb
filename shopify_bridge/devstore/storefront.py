"""The simulated shop's storefront: a product list, product pages, the loyalty widget on
them as the theme app extension's app embed loads it, and the app proxy.

- ``GET /devstore/<shop>/store/``: the product list; ``.../store/products/<id>``: a product
  page with the ``[data-loyalty-product-points]`` element the widget fills in.
- ``?customer=<id>`` logs the simulated shopper in as that customer (``?customer=`` logs
  out: a guest); the login is kept in a signed cookie for this shop's storefront, as the
  shop's own session would be.
- ``/devstore/<shop>/apps/loyalty/<path>``: the app proxy. As Shopify does, it drops the
  shopper's cookies, adds ``shop``, ``logged_in_customer_id`` (from the storefront's
  login, empty for a guest), ``path_prefix`` and ``timestamp`` to the query, signs it with
  the app's secret and forwards the request to the app's proxy URL (``/proxy/<path>``),
  here in the same process. The answer goes back to the browser as the app gave it.
- ``/devstore/<shop>/store/discount/<code>``: Shopify's ``/discount/<code>`` link: the
  code is kept for the cart and the shopper sent back to the store.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, path, resolve
from django.views.decorators.csrf import csrf_exempt

from shopify_bridge.app_proxy import app_proxy_signature

from .models import DevStore
from .oauth import store_chrome, store_domain_or_404
from .payloads import StreamProduct, builtin_products

PROXY_SUBPATH = "/apps/loyalty"  # the app's proxy subpath in shopify.app.toml
APP_PROXY_URL_PATH = "/proxy/"  # where the app serves it
CUSTOMER_COOKIE = "devstore_customer"
# The demo's seeded shoppers (``manage.py demo``), offered by the simulated login.
DEMO_CUSTOMERS = (("7001", "Ada Lovelace"), ("7002", "Grace Hopper"), ("7003", "Alan Turing"))
_PROXY_PATH = re.compile(r"^[a-z0-9][a-z0-9/_-]{0,100}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What the proxy sets itself; the shopper's query cannot supply them.
_PROXY_PARAMS = frozenset(
    {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}
)


def app_proxy_query(
    *,
    shop: str,
    customer_id: str = "",
    extra: Iterable[tuple[str, str]] = (),
    path_prefix: str = PROXY_SUBPATH,
    timestamp: int | None = None,
    secret: str | None = None,
) -> list[tuple[str, str]]:
    """The query Shopify's app proxy sends the app: the shopper's own parameters, then the
    proxy's, signed (``app_proxy.app_proxy_signature``)."""
    query = [(k, v) for k, v in extra if k not in _PROXY_PARAMS]
    query += [
        ("shop", shop),
        ("logged_in_customer_id", customer_id),
        ("path_prefix", path_prefix),
        ("timestamp", str(int(time.time()) if timestamp is None else timestamp)),
    ]
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    key = settings.SHOPIFY_API_SECRET if secret is None else secret
    return [*query, ("signature", app_proxy_signature(grouped, key))]


def _store(shop: str) -> dict[str, str]:
    domain = store_domain_or_404(shop)
    if not settings.DEVSTORE_ENABLED:
        raise Http404("the simulator is off")
    chrome = store_chrome(domain)
    name = DevStore.objects.filter(domain=domain).values_list("name", flat=True).first()
    if name:
        chrome["shop_name"] = name
    return chrome


def _customer(request: HttpRequest, shop: str) -> str:
    value = request.get_signed_cookie(CUSTOMER_COOKIE, default="", salt=shop)
    return value if value.isdigit() else ""


def _products() -> list[StreamProduct]:
    return builtin_products()


def _product_or_404(product_id: int) -> StreamProduct:
    for product in _products():
        if product.product_id == product_id:
            return product
    raise Http404("no such product")


def _page(request: HttpRequest, shop: str, template: str, context: dict) -> HttpResponse:
    chrome = _store(shop)
    customer = _customer(request, shop)
    switched = "customer" in request.GET
    if switched:
        wanted = request.GET.get("customer", "").strip()
        customer = wanted if wanted.isdigit() and len(wanted) <= 20 else ""
    names = dict(DEMO_CUSTOMERS)
    response = render(
        request,
        template,
        {
            **chrome,
            **context,
            "store_url": f"/devstore/{chrome['shop']}/store/",
            "proxy_url": f"/devstore/{chrome['shop']}{PROXY_SUBPATH}",
            "customer_id": customer,
            "customer_name": names.get(customer, f"Customer {customer}" if customer else ""),
            "demo_customers": DEMO_CUSTOMERS,
            "discount_code": request.get_signed_cookie(
                "devstore_discount", default="", salt=chrome["shop"]
            ),
            "widget": request.GET.get("widget") != "off",  # for the performance bench
        },
    )
    if switched:
        store_path = f"/devstore/{chrome['shop']}/"
        if customer:
            response.set_signed_cookie(
                CUSTOMER_COOKIE, customer, salt=chrome["shop"], path=store_path, httponly=True
            )
        else:
            response.delete_cookie(CUSTOMER_COOKIE, path=store_path)
    return response


def storefront_home(request: HttpRequest, shop: str) -> HttpResponse:
    return _page(request, shop, "devstore/storefront/home.html", {"products": _products()})


def storefront_product(request: HttpRequest, shop: str, product_id: int) -> HttpResponse:
    product = _product_or_404(product_id)
    return _page(request, shop, "devstore/storefront/product.html", {"product": product})


def storefront_discount(request: HttpRequest, shop: str, code: str) -> HttpResponse:
    """Shopify's ``/discount/<code>``: the code goes with the cart to checkout."""
    chrome = _store(shop)
    if not _CODE.match(code):
        raise Http404("no such code")
    response = HttpResponseRedirect(f"/devstore/{chrome['shop']}/store/")
    response.set_signed_cookie(
        "devstore_discount", code, salt=chrome["shop"], path=f"/devstore/{chrome['shop']}/"
    )
    return response


@csrf_exempt  # the app's endpoints judge the request; the proxy only forwards it
def app_proxy_forward(request: HttpRequest, shop: str, subpath: str) -> HttpResponse:
    """Forward a storefront request under ``/apps/loyalty/`` to the app, signed."""
    chrome = _store(shop)
    if not _PROXY_PATH.match(subpath) or ".." in subpath:
        raise Http404("no such page")
    query = app_proxy_query(
        shop=chrome["shop"], customer_id=_customer(request, shop), extra=request.GET.items()
    )
    body = request.body
    environ = {k: v for k, v in request.META.items() if k != "HTTP_COOKIE"}
    environ.update(
        {
            "PATH_INFO": APP_PROXY_URL_PATH + subpath,
            "SCRIPT_NAME": "",
            "QUERY_STRING": urlencode(query),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )
    forwarded = WSGIRequest(environ)
    try:
        match = resolve(forwarded.path_info)
    except Resolver404 as exc:
        raise Http404("no such page") from exc
    answer = match.func(forwarded, *match.args, **match.kwargs)
    if hasattr(answer, "render"):
        answer.render()
    response = HttpResponse(answer.content, status=answer.status_code)
    for header in ("Content-Type", "Retry-After", "Cache-Control", "WWW-Authenticate"):
        if header in answer:
            response[header] = answer[header]
    return response


urlpatterns = [
    path("<str:shop>/store/", storefront_home, name="storefront_home"),
    path(
        "<str:shop>/store/products/<int:product_id>",
        storefront_product,
        name="storefront_product",
    ),
    path("<str:shop>/store/discount/<str:code>", storefront_discount, name="storefront_discount"),
    path("<str:shop>/apps/loyalty/<path:subpath>", app_proxy_forward, name="storefront_proxy"),
]
