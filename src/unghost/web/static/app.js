// unghost: small progressive enhancements. Every page works without this file.
"use strict";

(function () {
  // Today's keyboard shortcuts: j/k move between items, s send, x skip, z snooze, d done.
  function items() { return Array.from(document.querySelectorAll(".agenda > .item")); }
  function current() { return document.querySelector(".agenda > .item.current"); }
  function select(el) {
    items().forEach(function (i) { i.classList.remove("current"); });
    if (!el) return;
    el.classList.add("current");
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function press(action) {
    var el = current() || items()[0];
    if (!el) return;
    var button = el.querySelector('[data-action="' + action + '"]');
    if (button) button.click();
  }
  if (document.body.dataset.page === "today") {
    select(items()[0] || null);
    document.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
      var all = items(), at = all.indexOf(current());
      if (ev.key === "j") { select(all[Math.min(at + 1, all.length - 1)]); }
      else if (ev.key === "k") { select(all[Math.max(at - 1, 0)]); }
      else if (ev.key === "s") { press("send"); }
      else if (ev.key === "x") { press("skip"); }
      else if (ev.key === "z") { press("snooze"); }
      else if (ev.key === "d") { press("done"); }
      else { return; }
      ev.preventDefault();
    });
  }
  // "Copy" buttons next to LinkedIn messages.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.parentElement.querySelector("textarea.copy");
      if (!text) return;
      text.select();
      if (navigator.clipboard) navigator.clipboard.writeText(text.value);
      button.textContent = "Copied";
    });
  });
})();
