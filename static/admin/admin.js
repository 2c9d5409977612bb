/* The embedded admin's client side: plain script, no framework.
 *
 * No cookie is trusted inside the store admin's iframe, so every request the page makes
 * carries a fresh App Bridge session token: links and GET forms get it as ?id_token=,
 * POST forms as a hidden id_token field, fetch() calls as Authorization: Bearer. The
 * token is asked for at the moment of the request (it lives one minute), never stored.
 */
(function () {
  "use strict";

  var body = document.body;
  var SHOP = body.getAttribute("data-shop") || "";
  var HOST = body.getAttribute("data-host") || "";

  function sessionToken() {
    if (!window.shopify || typeof window.shopify.idToken !== "function") {
      return Promise.reject(new Error("App Bridge is not available"));
    }
    return Promise.resolve(window.shopify.idToken());
  }

  function withAppParams(url, token) {
    if (SHOP && !url.searchParams.get("shop")) url.searchParams.set("shop", SHOP);
    if (HOST && !url.searchParams.get("host")) url.searchParams.set("host", HOST);
    if (token) url.searchParams.set("id_token", token);
    return url;
  }

  function isAdminUrl(url) {
    return url.origin === window.location.origin && url.pathname.indexOf("/app/") === 0;
  }

  /* The token in the address bar has done its job; keep it out of history and bookmarks. */
  (function cleanAddress() {
    var url = new URL(window.location.href);
    var toast = url.searchParams.get("toast");
    ["id_token", "bounced", "toast"].forEach(function (name) { url.searchParams.delete(name); });
    if (url.toString() !== window.location.href) {
      window.history.replaceState(null, "", url.toString());
    }
    if (toast) showToast();
  })();

  function showToast(text) {
    var el = document.querySelector('[data-testid="toast"]');
    if (!el) return;
    if (text) el.textContent = text;
    if (!el.textContent) return;
    if (window.shopify && window.shopify.toast && typeof window.shopify.toast.show === "function") {
      try { window.shopify.toast.show(el.textContent); } catch (e) { /* the page's own toast still shows */ }
    }
    el.classList.add("is-visible");
    window.setTimeout(function () { el.classList.remove("is-visible"); }, 4000);
  }

  function fail(message) {
    showToast(message || "Your session could not be confirmed. Open the app again from your store admin.");
  }

  /* Links under /app/: follow them with a fresh token. */
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || link.target === "_blank" || link.hasAttribute("download")) return;
    var url = new URL(link.href, window.location.href);
    if (!isAdminUrl(url)) return;
    event.preventDefault();
    sessionToken().then(function (token) {
      window.location.assign(withAppParams(url, token).toString());
    }, function () { window.location.assign(withAppParams(url).toString()); });
  });

  /* Forms: GET forms navigate with the token in the query; POST forms carry it in a
     hidden field. A confirm() first where the form asks for one. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var action = new URL(form.getAttribute("action") || window.location.href, window.location.href);
    if (!isAdminUrl(action)) return;
    event.preventDefault();
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    var submitter = event.submitter || form.querySelector('[type="submit"]');
    if (form.getAttribute("data-busy") === "1") return; // a double click sends one request
    form.setAttribute("data-busy", "1");
    if (submitter) submitter.setAttribute("aria-busy", "true");
    sessionToken().then(function (token) {
      if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
        var data = new FormData(form);
        data.forEach(function (value, name) { action.searchParams.set(name, value); });
        window.location.assign(withAppParams(action, token).toString());
        return;
      }
      var field = form.querySelector('input[name="id_token"]');
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "id_token";
        form.appendChild(field);
      }
      field.value = token;
      form.setAttribute("action", withAppParams(action).toString());
      HTMLFormElement.prototype.submit.call(form);
    }, function () {
      form.removeAttribute("data-busy");
      if (submitter) submitter.removeAttribute("aria-busy");
      fail();
    });
  });

  /* JSON from the admin's own endpoints, authenticated like App Bridge's fetch. */
  function fetchJSON(url, options) {
    options = options || {};
    return sessionToken().then(function (token) {
      var headers = new Headers(options.headers || {});
      headers.set("Authorization", "Bearer " + token);
      headers.set("Accept", "application/json");
      var target = withAppParams(new URL(url, window.location.href));
      return fetch(target.toString(), Object.assign({}, options, { headers: headers, credentials: "omit" }));
    }).then(function (response) {
      if (!response.ok) throw new Error("request failed: " + response.status);
      return response.json();
    });
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(null, args); }, wait);
    };
  }

  /* Repeated rows (line rules, actions, tiers): "Add" copies the last row, emptied,
     under the next index. */
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.addEventListener("click", function () {
      var prefix = button.getAttribute("data-add-row");
      var table = document.querySelector('[data-rows="' + prefix + '"] tbody');
      if (!table) return;
      var rows = table.querySelectorAll("[data-row]");
      var last = rows[rows.length - 1];
      if (!last) return;
      var index = rows.length;
      var pattern = new RegExp("^" + prefix + "-\\d+-");
      var copy = last.cloneNode(true);
      copy.querySelectorAll("[name], [id], [for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value && pattern.test(value)) el.setAttribute(attr, value.replace(pattern, prefix + "-" + index + "-"));
        });
        if (el.tagName === "INPUT" && el.type === "text") el.value = "";
        if (el.tagName === "INPUT" && el.type === "number") el.value = "";
        el.removeAttribute("aria-invalid");
      });
      copy.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      copy.querySelectorAll("textarea").forEach(function (el) { el.value = ""; });
      copy.querySelectorAll("input[type=checkbox]").forEach(function (el) { el.checked = el.name.slice(-8) === "-enabled"; });
      copy.querySelectorAll("[data-order]").forEach(function (el) { el.value = String(index + 1); });
      copy.querySelectorAll("[data-preview-target]").forEach(function (el) {
        el.setAttribute("data-preview-target", el.getAttribute("data-preview-target").replace(pattern, prefix + "-" + index + "-"));
        el.textContent = "—";
      });
      copy.querySelectorAll("label.visually-hidden").forEach(function (label) {
        label.textContent = label.textContent.replace(/\d+/, String(index + 1));
      });
      table.appendChild(copy);
      var first = copy.querySelector("input, select");
      if (first) first.focus();
      table.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  /* Tiers: move a row up or down; the order inputs follow the rows. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-move]");
    if (!button) return;
    var row = button.closest("[data-row]");
    if (!row) return;
    if (button.getAttribute("data-move") === "up" && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
    } else if (button.getAttribute("data-move") === "down" && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
    }
    row.parentNode.querySelectorAll("[data-order]").forEach(function (input, index) { input.value = String(index + 1); });
    button.focus();
    row.dispatchEvent(new Event("input", { bubbles: true }));
  });

  /* The campaign form shows the field of the kind chosen. */
  var kind = document.querySelector("[data-toggles-kind]");
  if (kind) {
    var toggle = function () {
      document.querySelectorAll("[data-kind]").forEach(function (el) {
        el.hidden = el.getAttribute("data-kind") !== kind.value;
      });
      document.querySelectorAll("[data-kinds]").forEach(function (el) {
        el.hidden = (" " + el.getAttribute("data-kinds") + " ").indexOf(" " + kind.value + " ") < 0;
      });
    };
    kind.addEventListener("change", toggle);
    toggle();
  }

  /* Settings: colour pickers beside the #rrggbb fields, and a live preview. */
  document.querySelectorAll("[data-colour-for]").forEach(function (picker) {
    var field = document.getElementById(picker.getAttribute("data-colour-for"));
    if (!field) return;
    picker.addEventListener("input", function () { field.value = picker.value; field.dispatchEvent(new Event("input", { bubbles: true })); });
    field.addEventListener("input", function () { if (/^#[0-9a-fA-F]{6}$/.test(field.value)) picker.value = field.value; });
  });
  var preview = document.querySelector("[data-widget-preview]");
  var widgetForm = document.querySelector("[data-widget-form]");
  if (preview && widgetForm) {
    widgetForm.addEventListener("input", function () {
      var value = function (name) { var el = widgetForm.elements[name]; return el ? el.value : ""; };
      if (/^#[0-9a-fA-F]{6}$/.test(value("primary_colour"))) preview.style.setProperty("--w-primary", value("primary_colour"));
      if (/^#[0-9a-fA-F]{6}$/.test(value("text_colour"))) preview.style.setProperty("--w-text", value("text_colour"));
      preview.setAttribute("data-position", value("launcher_position"));
      preview.querySelectorAll("[data-preview]").forEach(function (el) { el.textContent = value(el.getAttribute("data-preview")); });
    });
    widgetForm.addEventListener("change", function () { widgetForm.dispatchEvent(new Event("input")); });
  }

  /* Live previews: a form with data-preview-url posts its fields (debounced) and shows
     what the endpoint answers in the elements named by data-preview-target. */
  document.querySelectorAll("form[data-preview-url]").forEach(function (form) {
    var url = form.getAttribute("data-preview-url");
    var status = document.querySelector("[data-preview-status]");
    var run = debounce(function () {
      var data = new URLSearchParams(new FormData(form));
      data.delete("id_token");
      document.querySelectorAll("[data-preview-target]").forEach(function (el) { el.textContent = "—"; });
      if (status) status.textContent = "Updating preview…";
      fetchJSON(url, { method: "POST", body: data }).then(function (answer) {
        (answer.results || []).forEach(function (item) {
          var el = document.querySelector('[data-preview-target="' + item.key + '"]');
          if (el) el.textContent = item.text;
        });
        if (status) status.textContent = answer.summary || "";
      }, function () { if (status) status.textContent = "The preview could not be updated."; });
    }, 400);
    form.addEventListener("input", run);
    form.addEventListener("change", run);
    run();
  });

  window.loyaltyAdmin = { fetchJSON: fetchJSON, sessionToken: sessionToken, showToast: showToast };
})();
