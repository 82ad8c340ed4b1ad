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

(function () {
  // Playbook editor: the preview and the tone warnings follow the template as you type.
  var editor = document.querySelector("form.template-editor");
  if (editor) {
    var source = editor.querySelector("textarea[name=source]");
    var deal = editor.querySelector("select[name=deal]");
    var token = editor.querySelector("input[name=csrf]");
    var byId = function (id) { return document.getElementById(id); };
    var timer = null, asked = 0;
    var fill = function (list, lines) {
      while (list.firstChild) list.removeChild(list.firstChild);
      (lines || []).forEach(function (line) {
        var li = document.createElement("li");
        li.textContent = line;
        list.appendChild(li);
      });
      list.hidden = !lines || lines.length === 0;
    };
    var show = function (out) {
      var failed = Boolean(out.error);
      byId("preview-subject").textContent = out.subject || "";
      byId("preview-body").textContent = out.body || "";
      byId("preview-script").textContent = out.script || "";
      byId("preview-script-box").hidden = !out.script;
      byId("source-error").textContent = out.error || "";
      byId("source-error").hidden = !failed;
      fill(byId("preview-warnings"), out.warnings);
      fill(byId("preview-notes"), out.notes);
      byId("preview-clean").hidden = failed || (out.warnings || []).length > 0;
      byId("preview-status").textContent = "";
    };
    var update = function () {
      var ticket = ++asked;
      byId("preview-status").textContent = "Updating…";
      fetch("/api/playbook/preview", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token ? token.value : "" },
        body: JSON.stringify({
          play: editor.dataset.play, variant: editor.dataset.variant,
          source: source.value, deal: deal.value || null
        })
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        if (ticket !== asked) return;  // a newer preview is on its way
        show(answer.ok ? answer.data : { error: answer.data.error || "the preview failed" });
      }).catch(function () {
        if (ticket === asked) byId("preview-status").textContent = "No preview: the server did not answer.";
      });
    };
    var soon = function () { clearTimeout(timer); timer = setTimeout(update, 400); };
    source.addEventListener("input", soon);
    deal.addEventListener("change", update);
  }
})();
