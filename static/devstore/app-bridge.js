/* A stand-in for Shopify's App Bridge (v4 API names) for shops of the dev-store simulator.
 *
 * The app's pages load it instead of https://cdn.shopify.com/shopifycloud/app-bridge.js
 * when the shop lives in the simulator. It defines what the app uses of App Bridge:
 *
 *   shopify.config     {apiKey, shop, host}: the key from <meta name="shopify-api-key">,
 *                      shop and host from the URL the store admin opened
 *   shopify.idToken()  a Promise of a fresh session token, asked from the store admin
 *                      (the parent window) by postMessage
 *   shopify.toast.show(message, {isError, duration})
 *   <ui-nav-menu>      hidden in the app; its links go to the store admin's navigation
 *
 * and, like App Bridge, adds "Authorization: Bearer <session token>" to the page's own
 * fetch() calls to its origin.
 *
 * Messages go to the store admin's origin only and are accepted only from the parent
 * window on that origin. That origin is the script tag's data-admin-origin, else the
 * referrer the store admin's frame was opened with (its iframe sends its origin).
 */
(function () {
  "use strict";
  if (window.shopify && window.shopify.__devstore) return;

  var script = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var framed = window.parent !== window;

  function originOf(url) {
    try { return url ? new URL(url).origin : ""; } catch (e) { return ""; }
  }

  function remembered(name) {
    // shop and host come with the first load; later pages of the app may omit them.
    var value = params.get(name) || "";
    try {
      if (value) window.sessionStorage.setItem("devstore:" + name, value);
      else value = window.sessionStorage.getItem("devstore:" + name) || "";
    } catch (e) { /* storage may be blocked in a frame */ }
    return value;
  }

  var adminOrigin = (script && script.dataset.adminOrigin) || remembered("admin_origin") || originOf(document.referrer);
  try { if (adminOrigin) window.sessionStorage.setItem("devstore:admin_origin", adminOrigin); } catch (e) { /* idem */ }

  var pending = {};
  var counter = 0;

  window.addEventListener("message", function (event) {
    if (!framed || event.source !== window.parent || event.origin !== adminOrigin) return;
    var data = event.data;
    if (!data || typeof data !== "object" || !pending[data.id]) return;
    var waiter = pending[data.id];
    if (data.type === "devstore:id_token" && typeof data.token === "string") {
      delete pending[data.id];
      clearTimeout(waiter.timer);
      waiter.resolve(data.token);
    } else if (data.type === "devstore:id_token_error") {
      delete pending[data.id];
      clearTimeout(waiter.timer);
      waiter.reject(new Error(data.error || "no session token"));
    }
  });

  function idToken() {
    return new Promise(function (resolve, reject) {
      if (!framed || !adminOrigin) {
        reject(new Error("The app is not open inside the store admin: no session token."));
        return;
      }
      counter += 1;
      var id = "t" + counter + "-" + Date.now();
      var timer = setTimeout(function () {
        delete pending[id];
        reject(new Error("The store admin did not answer the session token request."));
      }, 10000);
      pending[id] = { resolve: resolve, reject: reject, timer: timer };
      window.parent.postMessage({ type: "devstore:id_token_request", id: id }, adminOrigin);
    });
  }

  function localToast(message, isError) {
    var toast = document.createElement("div");
    toast.setAttribute("role", "status");
    toast.textContent = String(message).slice(0, 200);
    toast.style.cssText = "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);" +
      "padding:10px 16px;border-radius:10px;color:#fff;font:600 13px sans-serif;z-index:2147483647;" +
      "background:" + (isError ? "#8e1f0b" : "#1a1a1a");
    document.body.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  }

  var toast = {
    show: function (message, options) {
      options = options || {};
      if (framed && adminOrigin) {
        window.parent.postMessage({
          type: "devstore:toast",
          message: String(message),
          isError: Boolean(options.isError),
          duration: options.duration || 5000,
        }, adminOrigin);
      } else {
        localToast(message, options.isError);
      }
      return "toast-" + Date.now();
    },
    hide: function () {},
  };

  // App Bridge authenticates the app's own fetch() calls with a fresh session token.
  var nativeFetch = window.fetch ? window.fetch.bind(window) : null;
  if (nativeFetch) {
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || String(input);
      var sameOrigin = originOf(new URL(url, window.location.href).href) === window.location.origin;
      var headers = new Headers((init && init.headers) || (input && input.headers) || undefined);
      if (!sameOrigin || headers.has("Authorization") || !framed) return nativeFetch(input, init);
      return idToken().then(function (token) {
        headers.set("Authorization", "Bearer " + token);
        return nativeFetch(input, Object.assign({}, init || {}, { headers: headers }));
      });
    };
  }

  // App Bridge shows <ui-nav-menu>'s links in the admin's navigation, not in the app: hide
  // the element here and hand its links (and the page now open) to the store admin.
  var style = document.createElement("style");
  style.textContent = "ui-nav-menu { display: none !important; }";
  (document.head || document.documentElement).appendChild(style);

  function announceNavigation() {
    if (!framed || !adminOrigin) return;
    var items = [];
    var links = document.querySelectorAll("ui-nav-menu a");
    for (var i = 0; i < links.length; i += 1) {
      if (links[i].getAttribute("rel") === "home") continue; // the app's own entry
      items.push({ label: links[i].textContent.trim(), href: links[i].href });
    }
    window.parent.postMessage({
      type: "devstore:navigation",
      items: items,
      current: window.location.pathname,
    }, adminOrigin);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", announceNavigation);
  } else {
    announceNavigation();
  }

  window.shopify = {
    __devstore: true,
    config: {
      apiKey: meta ? meta.getAttribute("content") : "",
      shop: remembered("shop"),
      host: remembered("host"),
      locale: params.get("locale") || "en",
    },
    idToken: idToken,
    toast: toast,
  };
})();
