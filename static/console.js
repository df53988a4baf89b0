// keygate console: small progressive enhancements. Every page works without this file.
"use strict";
document.documentElement.classList.add("js");
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const text = "value" in field ? field.value : field.textContent.trim();
  const done = function () {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  const fallback = function () {
    if (field.select) {
      field.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(field);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    document.execCommand("copy");
    done();
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
});
// Forms that ask for a confirmation before they are sent (data-confirm-input names the
// input whose value must equal data-confirm-value).
document.addEventListener("input", function (event) {
  const input = event.target;
  const form = input.form;
  if (!form || !form.dataset.confirmValue) return;
  const submit = form.querySelector("button[type=submit]");
  if (submit) submit.disabled = input.value !== form.dataset.confirmValue;
});
// Confirmation forms start disabled when scripts run (the server checks the value anyway).
function armConfirmForms(root) {
  root.querySelectorAll("form[data-confirm-value]").forEach(function (form) {
    const input = form.querySelector("input[name=confirm_name]");
    const submit = form.querySelector("button[type=submit]");
    if (input && submit) submit.disabled = input.value !== form.dataset.confirmValue;
  });
}
document.addEventListener("DOMContentLoaded", function () { armConfirmForms(document); });
document.addEventListener("htmx:afterSettle", function (event) { armConfirmForms(event.target); });
// On a narrow screen the settings menu starts closed (it is open in the page, so it works
// without this file).
function foldMenu(root) {
  if (!window.matchMedia("(max-width: 900px)").matches) return;
  root.querySelectorAll("details.sidebar-menu[open]").forEach(function (d) { d.open = false; });
}
document.addEventListener("DOMContentLoaded", function () { foldMenu(document); });
window.matchMedia("(max-width: 900px)").addEventListener("change", function (m) {
  document.querySelectorAll("details.sidebar-menu").forEach(function (d) { d.open = !m.matches; });
});
// After a boosted navigation or wizard step, focus moves to the new page's heading, so
// keyboard and screen-reader users start at the top of what changed.
document.addEventListener("htmx:afterSettle", function (event) {
  if (!event.detail || !event.detail.boosted) return;
  foldMenu(document);
  const heading = document.querySelector("main h1");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus();
});
// Times: the hover shows the browser's local time (the page says "3 min ago").
function localTimes(root) {
  root.querySelectorAll("time[datetime][title]").forEach(function (t) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  });
}
document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
document.addEventListener("htmx:afterSettle", function () { localTimes(document); });
// Menus (⋮): Esc closes the open one and gives focus back to its button; a click elsewhere
// or opening another closes it. Without this file they open and close with their button.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.menu[open]");
  if (!open) return;
  open.open = false;
  const summary = open.querySelector("summary");
  if (summary) summary.focus();
  event.preventDefault();
});
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    if (!d.contains(event.target)) d.open = false;
  });
});
// The wizard's last step is remembered for this tab, so that browser Back to a step of
// the same account says it was added already (adding it again would only be refused).
function rememberCreated(root) {
  const done = root.querySelector && root.querySelector("[data-created-name]");
  if (!done) return;
  try {
    sessionStorage.setItem("keygate-created", JSON.stringify({
      name: done.dataset.createdName, url: done.dataset.createdUrl
    }));
  } catch (e) { /* storage off: nothing to remember */ }
}
// `back`: the page was reached through the browser's history (then any step says so).
function markCreated(back) {
  let created = null;
  try { created = JSON.parse(sessionStorage.getItem("keygate-created") || "null"); } catch (e) { return; }
  if (!created) return;
  const form = document.querySelector("#wizard form[action='/settings/service-accounts/new']");
  const name = form && form.querySelector("input[name=name]");
  if (!name || (back !== true && name.value.trim() !== created.name)) return;
  const wizard = document.getElementById("wizard");
  if (wizard.querySelector(".created-notice")) return;
  const notice = document.createElement("p");
  notice.className = "notice created-notice";
  notice.setAttribute("role", "status");
  notice.append(created.name + " was added already. ");
  const link = document.createElement("a");
  link.href = created.url;
  link.textContent = "View account";
  notice.append(link);
  wizard.insertBefore(notice, form);
  const add = form.querySelector("button[value=create]");
  if (add) add.disabled = true;
}
// htmx keeps no history cache here (historyCacheSize 0, refreshOnHistoryMiss): Back to a
// wizard step reloads it from the server.
function historyVisit() {
  const nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
  return Boolean(nav && (nav.type === "back_forward" || nav.type === "reload"));
}
// A new wizard started by a link forgets the last one.
function forgetCreated(event) {
  if (!event.detail || !event.detail.boosted) return;
  const form = document.querySelector("#wizard form[action='/settings/service-accounts/new']");
  const name = form && form.querySelector("input[name=name]");
  if (name && name.value === "" && event.detail.requestConfig && event.detail.requestConfig.verb === "get") {
    try { sessionStorage.removeItem("keygate-created"); } catch (e) { /* nothing kept */ }
  }
}
document.addEventListener("DOMContentLoaded", function () { rememberCreated(document); markCreated(historyVisit()); });
document.addEventListener("htmx:afterSettle", function (event) { forgetCreated(event); rememberCreated(document); markCreated(false); });
document.addEventListener("htmx:historyRestore", function () { markCreated(true); });
window.addEventListener("pageshow", function (event) { if (event.persisted) markCreated(true); });
