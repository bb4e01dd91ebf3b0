/* The console's only script: a few progressive enhancements. Every page works without it.
 * - live character budget on screen texts and SMS parts on alert texts, measured exactly
 *   as gateway/sms/encoding.py measures them (GSM-7 septets with 2 for the extension table,
 *   else UCS-2 code units with 2 for a character outside the BMP);
 * - the progress bar of an alert being sent (polls a small JSON endpoint);
 * - a confirmation before destructive buttons.
 */
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function chars(text) { return Array.from(text); } // code points, like a Python str

  function isGsm7(text) {
    return chars(text).every(function (c) {
      return (c !== "\u001b" && BASIC.indexOf(c) >= 0) || EXTENSION.indexOf(c) >= 0;
    });
  }

  function cost(c, gsm) {
    if (gsm) { return EXTENSION.indexOf(c) >= 0 ? 2 : 1; }
    return c.codePointAt(0) > 0xffff ? 2 : 1;
  }

  function measure(text) {
    var gsm = isGsm7(text);
    var used = 0;
    chars(text).forEach(function (c) { used += cost(c, gsm); });
    return { gsm: gsm, used: used };
  }

  /* SMS parts: 160 septets or 70 UCS-2 code units alone, else 153 or 67 per part. */
  function smsParts(text) {
    var m = measure(text);
    var single = m.gsm ? 160 : 70, part = m.gsm ? 153 : 67;
    if (m.used === 0) { return { parts: 0, gsm: m.gsm, used: 0 }; }
    if (m.used <= single) { return { parts: 1, gsm: m.gsm, used: m.used }; }
    /* The same cut as segmentation.split_text: every part filled, whole units only. */
    var parts = 1, inPart = 0;
    chars(text).forEach(function (c) {
      var k = cost(c, m.gsm);
      if (inPart + k > part) { parts += 1; inPart = 0; }
      inPart += k;
    });
    return { parts: parts, gsm: m.gsm, used: m.used };
  }

  function screenBudget(area) {
    var out = document.getElementById(area.getAttribute("data-budget"));
    if (!out) { return; }
    var extra = area.getAttribute("data-extra") || "";
    var m = measure(area.value + extra);
    var limit = parseInt(area.getAttribute(m.gsm ? "data-limit-gsm7" : "data-limit-ucs2"), 10);
    var left = limit - m.used;
    var warnAt = Math.ceil(limit * 0.1);
    out.className = "budget" + (left < 0 ? " over" : left <= warnAt ? " near" : "");
    area.classList.toggle("over", left < 0);
    out.textContent = m.used + " / " + limit + (m.gsm ? " GSM-7 characters" : " UCS-2 characters") +
      (left < 0 ? " — too long by " + (-left) + ": shorten it or it will be cut into pages"
        : " — " + left + " left");
  }

  function smsBudget(area) {
    var out = document.getElementById(area.getAttribute("data-sms"));
    if (!out) { return; }
    var prefix = area.getAttribute("data-prefix") || "";
    if (!area.value.trim()) {
      out.className = "budget";
      out.textContent = "No text: these subscribers get the required language's text.";
      return;
    }
    var p = smsParts(prefix + area.value);
    out.className = "budget" + (p.parts > 3 ? " over" : p.parts > 1 ? " near" : "");
    out.textContent = p.used + (p.gsm ? " GSM-7" : " UCS-2") + " characters, " + p.parts +
      " SMS part" + (p.parts === 1 ? "" : "s") + (p.gsm ? "" : " (UCS-2: fewer characters per SMS)");
  }

  function watch(selector, fn) {
    document.querySelectorAll(selector).forEach(function (area) {
      area.addEventListener("input", function () { fn(area); });
      fn(area);
    });
  }

  function pollProgress(box) {
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return setTimeout(tick, 5000); }
          bar.max = Math.max(1, s.total);
          bar.value = Math.max(bar.value, s.done); /* never backwards */
          bar.setAttribute("data-percent", String(s.percent));
          if (label) { label.textContent = s.summary; }
          if (s.finished) { box.setAttribute("data-finished", "1"); window.location.reload(); }
          else { setTimeout(tick, 1500); }
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    tick();
  }

  /* The audience count follows the ticked topics, languages and countries. */
  function watchAudience(box) {
    var out = box.querySelector("[data-audience]");
    function update() {
      var params = new URLSearchParams();
      box.querySelectorAll("input").forEach(function (i) {
        if ((i.type === "checkbox" && i.checked) || (i.type !== "checkbox" && i.value)) {
          params.append(i.name, i.value);
        }
      });
      fetch(box.getAttribute("data-audience-url") + "?" + params.toString(),
        { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (d) { out.textContent = d.text || (d.count + " subscribers would receive it."); }
        });
    }
    box.addEventListener("change", update);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-audience-url]").forEach(watchAudience);
    watch("textarea[data-budget]", screenBudget);
    watch("textarea[data-sms]", smsBudget);
    document.querySelectorAll("[data-progress-url]").forEach(pollProgress);
    document.querySelectorAll("button[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (e) {
        if (!window.confirm(b.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
  });

  window.consoleBudget = { measure: measure, smsParts: smsParts };
})();
