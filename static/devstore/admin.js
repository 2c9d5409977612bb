/* The simulated store admin's side of the embedded app's frame.
 *
 * The app (in the iframe, on its own origin) asks for session tokens and shows toasts by
 * posting messages; this page answers only messages that come from that frame's window
 * and from the app's origin, and sends its answers to that origin only. Tokens come from
 * the simulator's endpoint, which mints them signed with the app's secret, as App Bridge
 * gets them from Shopify.
 */
(function () {
  "use strict";
  var frame = document.getElementById("app-frame");
  if (!frame) return;
  var appOrigin = frame.dataset.appOrigin;
  var tokenUrl = frame.dataset.tokenUrl;
  var csrfToken = frame.dataset.csrfToken;
  var toasts = document.getElementById("toasts");

  function reply(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(message, appOrigin);
  }

  function fetchToken() {
    return fetch(tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken, "Accept": "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error("the store admin refused a session token (" + response.status + ")");
      return response.json();
    }).then(function (body) { return body.token; });
  }

  function showToast(text, isError, duration) {
    if (!toasts) return;
    var toast = document.createElement("div");
    toast.className = "toast" + (isError ? " toast--error" : "");
    toast.setAttribute("role", "status");
    toast.textContent = String(text).slice(0, 200);
    toasts.appendChild(toast);
    setTimeout(function () { toast.remove(); }, Math.min(Math.max(Number(duration) || 5000, 1000), 20000));
  }

  // The app's pages as admin addresses: /app/<path> opens as <admin app URL>/<path>.
  var adminBase = frame.dataset.adminBase;
  var subnav = document.getElementById("app-subnav");

  function adminPath(appPath) {
    if (typeof appPath !== "string" || appPath.indexOf("/app/") !== 0) return null;
    return adminBase + "/" + appPath.slice("/app/".length);
  }

  function showNavigation(items, current) {
    var here = adminPath(current);
    if (here && here !== window.location.pathname) {
      window.history.replaceState(null, "", here); // the address bar follows the app, as in Shopify
    }
    if (!subnav || !Array.isArray(items)) return;
    subnav.textContent = "";
    items.slice(0, 20).forEach(function (item) {
      var url;
      try { url = new URL(String(item.href), appOrigin); } catch (e) { return; }
      var target = url.origin === appOrigin ? adminPath(url.pathname) : null;
      if (!target) return;
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = target;
      a.textContent = String(item.label || "").slice(0, 60);
      if (url.pathname === current) a.setAttribute("aria-current", "page");
      li.appendChild(a);
      subnav.appendChild(li);
    });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== appOrigin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (data.type === "devstore:id_token_request") {
      fetchToken().then(function (token) {
        reply({ type: "devstore:id_token", id: data.id, token: token });
      }, function (error) {
        reply({ type: "devstore:id_token_error", id: data.id, error: String(error.message || error) });
      });
    } else if (data.type === "devstore:toast") {
      showToast(data.message, Boolean(data.isError), data.duration);
    } else if (data.type === "devstore:navigation") {
      showNavigation(data.items, data.current);
    }
  });
})();
