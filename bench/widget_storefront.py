"""What the widget costs the storefront: the simulator's storefront pages measured in
Debian's Chromium with and without the widget.

    DEBUG=true .venv/bin/python bench/widget_storefront.py
    DEBUG=true .venv/bin/python bench/widget_storefront.py --runs 9 --throttle 4

It seeds a shop (widget on, a program with tiers and rewards, a member with history),
serves the app and the simulator on a local port (Django's threaded WSGI server, static
files included) and loads the product list and a product page, logged in as the member,
``--runs`` times each with the widget (as the app embed loads it) and without it
(``?widget=off``), in a fresh browser context each time, the CPU slowed ``--throttle``
times (Chromium's DevTools emulation, as Lighthouse's mobile run slows it by 4).

Per load it reads, from the page itself (PerformanceObserver and Navigation Timing):
First Contentful Paint, Largest Contentful Paint, Cumulative Layout Shift, Total
Blocking Time (the part of each long task beyond 50 ms, from FCP to the end of the
widget's work), DOMContentLoaded and load, and with the widget the time until its
launcher shows. It prints the medians and the differences; the last line is one JSON
object. Lighthouse itself is not needed: these are the metrics its performance score is
made of (LCP, TBT, CLS, FCP; Speed Index aside).

It uses its own database (``--db-name``, default ``loyalty_bench_storefront``) on the
server of ``$DATABASE_URL``, dropped and created again at start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import (  # noqa: E402
    bench_database_setup,
    free_port,
)

DOMAIN = "bench-storefront.myshopify.com"
CUSTOMER = "7001"

# Collected in the page from its first byte: paints, layout shifts, long tasks.
OBSERVE = """
window.__perf = {lcp: 0, cls: 0, longtasks: [], fcp: 0};
new PerformanceObserver(l => { for (const e of l.getEntries()) window.__perf.lcp = e.startTime; })
  .observe({type: 'largest-contentful-paint', buffered: true});
new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__perf.cls += e.value; })
  .observe({type: 'layout-shift', buffered: true});
new PerformanceObserver(l => { for (const e of l.getEntries()) window.__perf.longtasks.push([e.startTime, e.duration]); })
  .observe({type: 'longtask', buffered: true});
new PerformanceObserver(l => { for (const e of l.getEntries()) if (e.name === 'first-contentful-paint') window.__perf.fcp = e.startTime; })
  .observe({type: 'paint', buffered: true});
"""

READ = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const p = window.__perf;
  const tbt = p.longtasks.filter(([s]) => s >= p.fcp).reduce((t, [, d]) => t + Math.max(d - 50, 0), 0);
  return {fcp: p.fcp, lcp: p.lcp, cls: p.cls, tbt: tbt,
          dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          transfer_kb: performance.getEntriesByType('resource').reduce((t, r) => t + r.transferSize, 0) / 1024};
}"""


def seed() -> None:
    from loyalty_app.earning.services import program_update
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.ledger.services import ledger_entry_add
    from loyalty_app.members.models import Member
    from loyalty_app.merchant_admin.models import WidgetSettings
    from loyalty_app.rewards.services import reward_create
    from loyalty_app.shops.services import shop_create
    from loyalty_app.tiers.services import tier_program_update

    shop = shop_create(domain=DOMAIN).shop
    WidgetSettings.objects.create(shop=shop, enabled=True)
    program_update(
        shop=shop,
        data={"actions": [{"key": "signup", "points": 100}, {"key": "birthday", "points": 200}]},
        actor="bench",
    )
    tier_program_update(
        shop=shop,
        data={
            "metric": "amount_spent",
            "tiers": [{"name": "Silver", "threshold": "0"}, {"name": "Gold", "threshold": "500"}],
        },
        actor="bench",
    )
    for points in (200, 500, 1000):
        reward_create(
            shop=shop,
            data={
                "kind": "fixed_amount",
                "title": f"{points // 100}.00 off",
                "points_cost": points,
                "value": f"{points // 100}.00",
            },
            actor="bench",
        )
    member = Member.objects.create(shop=shop, external_id=CUSTOMER, email="ada@example.com")
    for index in range(60):
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=25,
            idempotency_key=f"bench:{index}",
            reason="Order points",
        )


def serve(port: int) -> None:
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", port), Quiet)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()


def load(browser: Any, url: str, *, throttle: float, widget: bool) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(OBSERVE)
    if throttle > 1:
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    # Log in as the member first (the storefront's session), then measure a cold load.
    page.goto(url.split("?")[0] + f"?customer={CUSTOMER}&widget=off")
    page.goto(url, wait_until="load")
    launcher_ms = None
    if widget:
        page.wait_for_selector(".lw-launcher", state="visible", timeout=20_000)
        launcher_ms = page.evaluate("performance.now()")
    page.wait_for_timeout(500)  # late shifts and long tasks are counted too
    figures = page.evaluate(READ)
    figures["launcher_ms"] = launcher_ms
    context.close()
    return figures


def median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in rows if row[key] is not None]
    return round(statistics.median(values), 3) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--throttle", type=float, default=4.0, help="CPU slowdown (1: none)")
    parser.add_argument("--db-name", default="loyalty_bench_storefront")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    bench_database_setup(args.db_name, keep_redis=True)
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False
    settings.WIDGET_RATE_LIMITS = {"customer": (10**9, 60), "shop": (10**9, 60)}
    seed()
    port = free_port()
    serve(port)
    store = f"http://127.0.0.1:{port}/devstore/{DOMAIN}/store/"
    pages = {"product list": store, "product page": store + "products/9300000000"}

    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("Chromium is not installed (scripts/browser-up installs it)")
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        for label, url in pages.items():
            rows: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
            for _ in range(args.runs):
                # Alternate, so a slower moment of the machine hits both alike.
                rows["without"].append(
                    load(browser, url + "?widget=off", throttle=args.throttle, widget=False)
                )
                rows["with"].append(load(browser, url, throttle=args.throttle, widget=True))
            keys = ("fcp", "lcp", "cls", "tbt", "dcl", "load", "transfer_kb", "launcher_ms")
            results[label] = {
                variant: {key: median(data, key) for key in keys} for variant, data in rows.items()
            }
        browser.close()

    print(f"CPU slowed {args.throttle}x, {args.runs} cold loads each, medians")
    print(f"{'page':14} {'':8} {'FCP':>7} {'LCP':>7} {'CLS':>6} {'TBT':>6} {'DCL':>7} "
          f"{'load':>7} {'KB':>6} {'launcher':>9}")  # fmt: skip
    for label, variants in results.items():
        for variant, m in variants.items():
            print(
                f"{label:14} {variant:8} {m['fcp']:>7} {m['lcp']:>7} {m['cls']:>6} "
                f"{m['tbt']:>6} {m['dcl']:>7} {m['load']:>7} {m['transfer_kb']:>6} "
                f"{m['launcher_ms'] if m['launcher_ms'] is not None else '-':>9}"
            )
    print(json.dumps({"throttle": args.throttle, "runs": args.runs, "pages": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
