/* The loyalty program's storefront widget. Plain JavaScript, no dependencies.

   Loaded deferred by the theme app extension's app embed (or any page) as
     <script src=".../widget.js" defer data-loyalty-widget data-proxy="/apps/loyalty"
             data-css=".../widget.css"></script>
   It asks the app (through the shop's app proxy) for the shopper's state, then shows a
   fixed-position launcher, so nothing on the page moves. The panel is built on first
   open: a modal dialog that keeps focus inside, closes on Escape and gives focus back.
   Messages are announced through a live region. Every text from the server is set as
   text, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-loyalty-widget]");
  if (!script || window.loyaltyWidget) return;
  var cfg = script.dataset;
  var proxy = (cfg.proxy || "/apps/loyalty").replace(/\/+$/, "");
  var discountPath = cfg.discountPath || "/discount/";
  var state = null, launcher = null, panel = null, body = null, live = null, lastFocus = null;
  var pendingKeys = {}; // reward id -> idempotency key of the attempt not yet answered
  var lastRedemption = null;
  window.loyaltyWidget = { open: open, close: close, refresh: load };

  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach(function (kid) {
      if (kid) node.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    });
    return node;
  }

  function fmt(n) { return Number(n).toLocaleString(); }
  // An amount of points in the shop's own words ("1,250 stars"): the names come with the
  // state (points_name); before it arrives, or without them, "point"/"points".
  function pointsWord(n) {
    var names = (state && state.points_name) || {};
    return Math.abs(n) === 1 ? (names.singular || "point") : (names.plural || "points");
  }
  function pts(n) { return fmt(n) + " " + pointsWord(n); }
  function capital(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

  function api(path, data, query) {
    var url = proxy + "/" + path + (query ? "?" + new URLSearchParams(query) : "");
    var opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (data) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(data);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (r.ok) return d;
        d.status = r.status;
        if (!d.error) d.error = "Something went wrong. Please try again.";
        if (r.status === 429) d.error = "Too many requests. Please wait a moment and try again.";
        throw d;
      });
    }, function () {
      throw { status: 0, error: "The connection failed. Please try again." };
    });
  }

  function say(text, isError) {
    if (!live) return;
    live.textContent = "";
    live.className = "lw-live" + (isError ? " lw-err" : "");
    // Set on the next frame so a repeated message is announced again.
    requestAnimationFrame(function () { live.textContent = text; });
  }

  function applySettings(s) {
    [launcher, panel].forEach(function (node) {
      if (!node) return;
      node.style.setProperty("--lw-primary", s.primary_colour || cfg.primaryColour || "#008060");
      node.style.setProperty("--lw-on-primary", s.text_colour || cfg.textColour || "#ffffff");
      node.classList.toggle("lw-left", (s.position || cfg.position) === "left");
    });
  }

  function launcherLabel() {
    var s = state.settings, m = state.member;
    launcher.textContent = "";
    launcher.appendChild(el("span", { text: s.launcher_text || "Rewards" }));
    if (m) launcher.appendChild(el("span", { class: "lw-badge", text: pts(m.balance) }));
  }

  function load() {
    return api("state").then(function (data) {
      state = data;
      if (!state.settings.enabled) {
        if (launcher) launcher.remove();
        if (panel) panel.remove();
        launcher = panel = null;
        return;
      }
      if (!launcher) {
        launcher = el("button", {
          type: "button", class: "lw-launcher", "aria-haspopup": "dialog",
          "aria-expanded": "false", "aria-controls": "lw-panel", onclick: open,
        });
        document.body.appendChild(launcher);
      }
      applySettings(state.settings);
      launcherLabel();
      if (panel) render();
      productPoints();
    }, function () { /* no widget when the app cannot answer: the page is unaffected */ });
  }

  function productPoints() {
    var nodes = document.querySelectorAll("[data-loyalty-product-points]");
    Array.prototype.forEach.call(nodes, function (node) {
      if (node.dataset.loyaltyDone) return;
      node.dataset.loyaltyDone = "1";
      var q = { product_id: node.dataset.productId || "", price: node.dataset.price || "" };
      api("product-points", null, q).then(function (d) {
        node.textContent = d.text || "";
      }, function () {});
    });
  }

  // --- the panel ---------------------------------------------------------------------

  function open() {
    if (!state) return;
    lastFocus = document.activeElement;
    if (!panel) build();
    render();
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    document.addEventListener("keydown", onKey, true);
    var first = focusables()[0];
    (first || panel).focus();
  }

  function close() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    document.removeEventListener("keydown", onKey, true);
    (lastFocus && document.contains(lastFocus) ? lastFocus : launcher).focus();
  }

  function focusables() {
    var q = "a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),[tabindex='0']";
    return Array.prototype.filter.call(panel.querySelectorAll(q), function (n) {
      return n.offsetParent !== null || n === document.activeElement;
    });
  }

  function onKey(e) {
    if (e.key === "Escape") { e.preventDefault(); close(); return; }
    if (e.key !== "Tab") return;
    var items = focusables();
    if (!items.length) { e.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1];
    var inside = panel.contains(document.activeElement);
    if (e.shiftKey && (document.activeElement === first || !inside)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (document.activeElement === last || !inside)) { e.preventDefault(); first.focus(); }
  }

  function build() {
    live = el("div", { class: "lw-live", role: "status", "aria-live": "polite" });
    body = el("div", { class: "lw-body" });
    panel = el("div", {
      id: "lw-panel", class: "lw-panel", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "lw-title", tabindex: "-1", hidden: true,
    }, [
      el("div", { class: "lw-head" }, [
        el("h2", { id: "lw-title", text: state.settings.panel_title || "Rewards" }),
        el("button", { type: "button", class: "lw-close", "aria-label": "Close", text: "\u00d7", onclick: close }),
      ]),
      live, body,
    ]);
    document.body.appendChild(panel);
    applySettings(state.settings);
  }

  function section(title, kids) {
    var id = "lw-s-" + title.toLowerCase().replace(/[^a-z]+/g, "-");
    return el("section", { class: "lw-sec", "aria-labelledby": id },
      [el("h3", { id: id, text: title })].concat(kids));
  }

  function render() {
    panel.querySelector("#lw-title").textContent = state.settings.panel_title || "Rewards";
    body.textContent = "";
    if (state.member) renderMember(); else renderGuest();
  }

  function renderGuest() {
    var p = state.program;
    body.appendChild(el("p", { class: "lw-welcome", text: state.settings.welcome_text }));
    if (state.customer.logged_in) {
      body.appendChild(el("button", { type: "button", class: "lw-btn lw-wide", text: "Join now", onclick: joinCustomer }));
    } else {
      var input = el("input", { id: "lw-email", type: "email", name: "email", required: true, autocomplete: "email" });
      var form = el("form", { class: "lw-join", novalidate: true, onsubmit: function (e) { e.preventDefault(); joinGuest(form, input); } }, [
        el("label", { for: "lw-email", text: "Email" }), input,
        el("button", { type: "submit", class: "lw-btn", text: "Join" }),
      ]);
      body.appendChild(form);
      body.appendChild(el("p", { class: "lw-muted" }, ["Already a customer? ", el("a", { href: "/account/login", text: "Log in" }), " to see your " + pointsWord(2) + "."]));
    }
    var earn = [];
    if (p.earn_rate) earn.push(el("li", {}, [el("span", { text: p.earn_rate })]));
    p.ways_to_earn.forEach(function (a) {
      earn.push(el("li", {}, [el("span", { text: a.label }), el("span", { class: "lw-pts", text: "+" + pts(a.points) })]));
    });
    body.appendChild(section("Ways to earn", [el("ul", { class: "lw-list" }, earn)]));
    body.appendChild(section("Rewards", [rewardList(false)]));
    if (p.tiers.length) body.appendChild(section("Tiers", [tierList()]));
  }

  function tierList() {
    return el("ul", { class: "lw-list" }, state.program.tiers.map(function (t) {
      return el("li", {}, [el("span", {}, [el("strong", { text: t.name }), el("br"), el("span", { class: "lw-muted", text: t.requirement + (t.perks.length ? " \u00b7 " + t.perks.join(", ") : "") })])]);
    }));
  }

  function renderMember() {
    var m = state.member, t = m.tier;
    var card = [
      el("p", { class: "lw-balance" }, [el("strong", { text: fmt(m.balance) }), " " + pointsWord(m.balance)]),
    ];
    if (m.pending) card.push(el("p", { class: "lw-muted", text: pts(m.pending) + " pending" }));
    if (t && t.name) card.push(el("p", { class: "lw-tier" }, ["Tier: ", el("strong", { text: t.name })]));
    if (t && t.progress_text) {
      card.push(el("div", { class: "lw-bar", role: "progressbar", "aria-label": "Progress to " + t.next_tier, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(t.percent) }, [el("span", { style: "width:" + t.percent + "%" })]));
      card.push(el("p", { class: "lw-progress", text: t.progress_text }));
    }
    body.appendChild(el("div", { class: "lw-card" }, card));
    if (lastRedemption) body.appendChild(codeBox(lastRedemption, true));
    if (state.survey) body.appendChild(surveyBox(state.survey));
    body.appendChild(section("Rewards", [rewardList(true)]));
    var codes = state.codes.filter(function (c) { return c.code; });
    if (codes.length) {
      body.appendChild(section("Your codes", [el("ul", { class: "lw-list" }, codes.map(function (c) {
        return el("li", {}, [codeBox(c, false)]);
      }))]));
    }
    if (state.referral) body.appendChild(referralSection(state.referral));
    if (state.challenges) renderChallenges(state.challenges);
    body.appendChild(section("Ways to earn", [actionList()]));
    body.appendChild(section("History", [history()]));
  }

  // Refer a friend: the member's link (on this storefront, through the app proxy), a copy
  // button, the friend's offer and the member's reward in words, and the counts so far.
  function referralSection(r) {
    var link = window.location.origin + proxy + r.path;
    var reward = r.referrer_points != null ? pts(r.referrer_points) : r.referrer_reward;
    var input = el("input", { id: "lw-ref-link", class: "lw-ref-link", type: "text", readonly: true, value: link, "aria-label": "Your referral link", onfocus: function (e) { e.currentTarget.select(); } });
    return section("Refer a friend", [
      el("p", { class: "lw-ref-offer", text: "Give your friends " + r.friend_offer + ". Get " + reward + " when their first order is confirmed." }),
      el("div", { class: "lw-code-row" }, [
        input,
        el("button", { type: "button", class: "lw-btn lw-small", text: "Copy link", "aria-label": "Copy your referral link", onclick: function () { copyLink(link); } }),
      ]),
      el("p", { class: "lw-muted lw-ref-counts", text: r.friends_referred + (r.friends_referred === 1 ? " friend" : " friends") + " referred \u00b7 " + r.rewards_earned + (r.rewards_earned === 1 ? " reward" : " rewards") + " earned" }),
    ]);
  }

  function copyLink(link) {
    var done = function () { say("Referral link copied."); };
    var failed = function () { say("Copy failed: select the link and copy it.", true); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(done, failed);
    } else {
      var area = el("textarea", { class: "lw-offscreen", readonly: true });
      area.value = link;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { failed(); }
      area.remove();
    }
  }

  // The likelihood-to-recommend survey after a redemption: a score from 0 to 10 and an
  // optional comment, or "No thanks". The app keeps the first answer per redemption, so a
  // repeated send changes nothing; once answered, the state no longer asks.
  function surveyBox(s) {
    var chosen = null, buttons = [];
    var err = el("p", { class: "lw-err", role: "alert" });
    var comment = el("textarea", { id: "lw-survey-comment", name: "comment", rows: "2", maxlength: "1000" });
    for (var i = 0; i <= 10; i++) {
      buttons.push(el("button", { type: "button", class: "lw-score", "aria-pressed": "false", "aria-label": i + " out of 10", "data-score": String(i), text: String(i), onclick: function (e) {
        chosen = Number(e.currentTarget.dataset.score);
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === e.currentTarget ? "true" : "false"); });
      } }));
    }
    var send = el("button", { type: "submit", class: "lw-btn lw-small", text: "Send" });
    var form = el("form", { class: "lw-survey", novalidate: true, onsubmit: function (e) {
      e.preventDefault();
      if (chosen === null) { err.textContent = "Choose a score from 0 to 10."; say(err.textContent, true); return; }
      answerSurvey(s, { score: chosen, comment: comment.value }, send, err);
    } }, [
      el("fieldset", { class: "lw-scale-set" }, [
        el("legend", { text: s.question }),
        el("div", { class: "lw-scores" }, buttons),
        el("div", { class: "lw-scale lw-muted", "aria-hidden": "true" }, [el("span", { text: "0 Not likely" }), el("span", { text: "10 Very likely" })]),
      ]),
      el("label", { for: "lw-survey-comment", text: "Anything to add? (optional)" }), comment,
      el("div", { class: "lw-code-row" }, [send, el("button", { type: "button", class: "lw-btn lw-small lw-ghost", text: "No thanks", onclick: function (e) { answerSurvey(s, { dismissed: true }, e.currentTarget, err); } })]),
      err,
    ]);
    return section("Quick question", [form]);
  }

  function answerSurvey(s, answer, button, err) {
    answer.redemption_id = s.redemption_id;
    button.disabled = true;
    api("survey", answer).then(function (d) {
      state.survey = null;
      render();
      say(d.message || "No problem. Enjoy your reward!");
    }, function (d) {
      // Closed meanwhile (the survey was turned off, or the reward was not delivered).
      if (d.status === 404 || d.status === 409) { state.survey = null; render(); }
      else { button.disabled = false; err.textContent = d.error; }
      say(d.error, true);
    });
  }

  function codeBox(r, fresh) {
    var kids = [];
    if (fresh) kids.push(el("p", {}, [el("strong", { text: "Your new code: " + r.title })]));
    kids.push(el("div", { class: "lw-code-row" }, [
      el("code", { class: "lw-code", text: r.code || r.title }),
      r.code ? el("button", { type: "button", class: "lw-btn lw-small", text: "Copy", "aria-label": "Copy code " + r.code, onclick: function () { copy(r.code); } }) : null,
      r.code ? el("a", { class: "lw-btn lw-small lw-ghost", href: discountPath + encodeURIComponent(r.code), text: "Apply to cart" }) : null,
    ]));
    if (!fresh) kids.unshift(el("span", { class: "lw-muted", text: r.title + (r.status === "used" ? " (used)" : r.status === "expired" ? " (expired)" : "") }));
    return el("div", { class: fresh ? "lw-fresh" : "lw-codebox" }, kids);
  }

  function copy(code) {
    var done = function () { say("Code " + code + " copied."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code).then(done, function () { say("Copy failed: select the code and copy it.", true); });
    } else {
      var area = el("textarea", { class: "lw-offscreen", readonly: true });
      area.value = code;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { say("Copy failed: select the code and copy it.", true); }
      area.remove();
    }
  }

  function rewardList(member) {
    if (!state.rewards.length) return el("p", { class: "lw-muted", text: "No rewards yet." });
    return el("ul", { class: "lw-list" }, state.rewards.map(function (r) {
      var info = [el("strong", { text: r.title }), el("br"), el("span", { class: "lw-muted", text: (r.variable ? "From " : "") + pts(r.points) + (r.min_tier ? " \u00b7 " + r.min_tier + " tier" : "") })];
      var act = [];
      if (member) {
        var err = el("p", { class: "lw-err", role: "alert" });
        if (r.out_of_stock) act.push(el("span", { class: "lw-muted", text: "Out of stock" }));
        else if (!r.affordable) act.push(el("span", { class: "lw-muted", text: fmt(r.missing) + " more " + pointsWord(r.missing) + " needed" }));
        else {
          var input = null;
          if (r.variable) {
            input = el("input", { type: "number", min: String(r.points), max: r.max_points ? String(r.max_points) : null, step: String(r.points_per_step || 1), value: String(r.points), "aria-label": capital(pointsWord(2)) + " to spend on " + r.title, class: "lw-num" });
            act.push(input);
          }
          act.push(el("button", { type: "button", class: "lw-btn lw-small", text: "Redeem", "aria-label": "Redeem " + r.title + " for " + pts(r.points), onclick: function (e) { redeem(r, e.currentTarget, err, input); } }));
        }
        return el("li", { class: "lw-reward" }, [el("span", {}, info), el("span", { class: "lw-act" }, act), err]);
      }
      return el("li", {}, [el("span", {}, info)]);
    }));
  }

  function actionList() {
    return el("ul", { class: "lw-list" }, state.actions.map(function (a) {
      var status = a.available ? el("span", { class: "lw-pts", text: "+" + pts(a.points) }) : el("span", { class: "lw-muted", text: "Done \u2713" });
      var item = el("li", { class: "lw-action" }, [el("span", { text: a.label }), status]);
      if (a.key === "birthday" && !a.birthday_set) item.appendChild(birthdayForm());
      return item;
    }));
  }

  function birthdayForm() {
    var month = el("select", { id: "lw-bm", name: "month" }, [el("option", { value: "", text: "Month" })].concat(
      ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map(function (n, i) {
        return el("option", { value: String(i + 1), text: n });
      })));
    var day = el("input", { id: "lw-bd", name: "day", type: "number", min: "1", max: "31", inputmode: "numeric" });
    var form = el("form", { class: "lw-bday", onsubmit: function (e) {
      e.preventDefault();
      if (!month.value || !day.value) { say("Choose the month and the day of your birthday.", true); return; }
      api("birthday", { month: Number(month.value), day: Number(day.value) }).then(function (d) {
        state = d; render(); say("Birthday saved. Your birthday " + pointsWord(2) + " come on the day.");
      }, function (d) { say(d.error, true); });
    } }, [
      el("label", { for: "lw-bm", text: "Birthday month" }), month,
      el("label", { for: "lw-bd", text: "Day" }), day,
      el("button", { type: "submit", class: "lw-btn lw-small", text: "Save" }),
    ]);
    return form;
  }

  function history() {
    if (!state.history.length) return el("p", { class: "lw-muted", text: "No " + pointsWord(2) + " yet." });
    return el("ul", { class: "lw-list lw-hist" }, state.history.map(function (h) {
      return el("li", {}, [
        el("span", {}, [el("span", { text: h.text }), el("br"), el("span", { class: "lw-muted", text: new Date(h.at).toLocaleDateString() })]),
        el("span", { class: h.points > 0 ? "lw-pts" : "lw-neg", text: (h.points > 0 ? "+" : "") + fmt(h.points) }),
      ]);
    }));
  }

  // --- challenges and badges ------------------------------------------------------------

  // Each running challenge: its progress as text and as a bar, the days left and what it
  // gives; then the badges the member holds, drawn from the app's built-in glyphs.
  function renderChallenges(c) {
    if (c.running.length) {
      body.appendChild(section("Challenges", [el("ul", { class: "lw-list lw-challenges" }, c.running.map(challengeItem))]));
    }
    if (c.badges.length) {
      body.appendChild(section("Your badges", [el("ul", { class: "lw-badges" }, c.badges.map(badgeItem))]));
    }
  }

  function challengeItem(ch) {
    var status = ch.completed ? "Completed \u2713" : ch.waiting ? "Completes when your orders are confirmed" : ch.days_left_text;
    var gives = [];
    if (ch.reward.points) gives.push(pts(ch.reward.points));
    if (ch.reward.reward) gives.push(ch.reward.reward.title);
    if (ch.reward.badge) gives.push(ch.reward.badge.name + " badge");
    return el("li", { class: "lw-challenge" + (ch.completed ? " lw-done" : "") }, [
      el("div", { class: "lw-ch-head" }, [el("strong", { text: ch.name }), el("span", { class: ch.completed ? "lw-pts" : "lw-muted", text: status })]),
      ch.description ? el("p", { class: "lw-muted lw-ch-desc", text: ch.description }) : null,
      el("div", { class: "lw-bar", role: "progressbar", "aria-label": ch.name, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(ch.percent), "aria-valuetext": ch.text }, [el("span", { style: "width:" + ch.percent + "%" })]),
      el("p", { class: "lw-progress" }, [el("span", { class: "lw-ch-text", text: ch.text }), gives.length ? el("span", { class: "lw-muted", text: " \u00b7 Reward: " + gives.join(" + ") }) : null]),
    ]);
  }

  function glyph(path) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    var shape = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.appendChild(shape);
    return svg;
  }

  function badgeItem(b) {
    var medal = el("span", { class: "lw-medal", style: "background:" + b.colour_hex });
    medal.appendChild(glyph(b.path));
    return el("li", { class: "lw-badge-item", title: b.description || null }, [medal, el("span", { text: b.name })]);
  }

  // --- what the shopper does ---------------------------------------------------------

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function redeem(reward, button, err, input) {
    var points = input ? Number(input.value) : undefined;
    var key = pendingKeys[reward.id] || (pendingKeys[reward.id] = newKey());
    button.disabled = true;
    err.textContent = "";
    say("Redeeming " + reward.title + "\u2026");
    api("redeem", { reward_id: reward.id, idempotency_key: key, points: points }).then(function (d) {
      delete pendingKeys[reward.id];
      state = d;
      lastRedemption = d.redemption;
      launcherLabel();
      render();
      say(d.redemption.message);
      var fresh = body.querySelector(".lw-fresh button, .lw-fresh a");
      if (fresh) fresh.focus();
    }, function (d) {
      // A refusal is final for this attempt; a lost connection retries with the same key.
      if (d.status) delete pendingKeys[reward.id];
      button.disabled = false;
      err.textContent = d.error;
      say(d.error, true);
    });
  }

  function joinCustomer() {
    api("join", {}).then(function (d) {
      state = d;
      launcherLabel();
      render();
      say(d.joined && d.joined.points ? "Welcome! You earned " + pts(d.joined.points) + "." : "Welcome to the program!");
      var first = focusables()[0];
      if (first) first.focus();
    }, function (d) { say(d.error, true); });
  }

  function joinGuest(form, input) {
    if (!input.value || !input.checkValidity()) {
      input.setAttribute("aria-invalid", "true");
      say("Enter a valid email address.", true);
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    api("join", { email: input.value }).then(function (d) {
      form.replaceWith(el("p", { class: "lw-fresh", text: d.message }));
      say(d.message);
    }, function (d) { say(d.error, true); });
  }

  // --- start: the styles, then the state ---------------------------------------------

  function start() {
    if (cfg.css && !document.querySelector("link[data-loyalty-widget]")) {
      var link = el("link", { rel: "stylesheet", href: cfg.css, "data-loyalty-widget": true });
      var go = function () { load(); };
      link.addEventListener("load", go);
      link.addEventListener("error", go);
      document.head.appendChild(link);
    } else {
      load();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
