// The dashboard's stylesheet and its one script, served by the dashboard itself (no CDN, no build step).

/** The stylesheet: readable at 1280 px and on a phone, light and dark. */
export const CSS = `
:root { --fg: #1d2433; --muted: #5b6476; --bg: #f6f7f9; --card: #fff; --line: #dde1e8; --accent: #2456c9;
  --ok: #1f8a4c; --bad: #c62f2f; --warn: #a86a00; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --muted: #9aa3b5; --bg: #12151c; --card: #1b1f29;
  --line: #2c3240; --accent: #7aa2ff; --ok: #4cc27f; --bad: #ff6b6b; --warn: #e0a63a; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem 1.2rem; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; }
header.top nav { display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
header.top nav a { text-decoration: none; padding: .15rem 0; }
header.top nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
header.top .right { margin-left: auto; display: flex; gap: .8rem; align-items: center; color: var(--muted); font-size: .9em; }
main { max-width: 1400px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
/* Types, sources and destination names can be long words with no break; outside tables (which scroll) they wrap. */
main h1, main li, main p { overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .6rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: .7rem; }
a.card { text-decoration: none; color: inherit; }
a.card:hover { border-color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; }
.card .n { font-size: 1.6rem; font-weight: 700; }
.card .label { color: var(--muted); font-size: .85em; text-transform: uppercase; letter-spacing: .03em; }
.card.failed .n { color: var(--bad); }
.scroll { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8em; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono, code, pre { font-family: var(--mono); font-size: .88em; }
.wrap { overflow-wrap: break-word; }
.nowrap { white-space: nowrap; }
.err { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
pre.data { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; overflow: auto; max-height: 70vh; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 99px; font-size: .8em; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.s-published, .s-delivered { color: var(--ok); } .s-failed { color: var(--bad); } .s-pending, .s-processing { color: var(--warn); }
form.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: .5rem .8rem; align-items: end; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; margin-bottom: 1rem; }
label { display: grid; gap: .15rem; font-size: .85em; color: var(--muted); }
input, select, button { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); min-width: 0; }
button, .button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); text-decoration: none; display: inline-block; padding: .35rem .8rem; border-radius: 6px; }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
form.inline { display: inline; }
.actions { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .8rem 0; }
.notice { padding: .6rem .8rem; border-radius: 8px; border: 1px solid var(--ok); margin-bottom: 1rem; }
.notice.problem { border-color: var(--bad); color: var(--bad); }
.pager { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: .8rem 0; color: var(--muted); }
dl.attrs { display: grid; grid-template-columns: minmax(120px, max-content) 1fr; gap: .3rem 1rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; margin: 0; }
dl.attrs dt { color: var(--muted); } dl.attrs dd { margin: 0; overflow-wrap: anywhere; }
.chart { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .bar-ok { fill: var(--ok); } .chart .bar-bad { fill: var(--bad); }
.chart .axis { stroke: var(--line); } .chart text { fill: var(--muted); font-size: 11px; font-family: system-ui, sans-serif; }
.legend { display: flex; gap: 1rem; font-size: .85em; color: var(--muted); padding: .2rem .5rem; }
.legend .ok::before, .legend .bad::before { content: ""; display: inline-block; width: .8em; height: .8em; margin-right: .3em; border-radius: 2px; }
.legend .ok::before { background: var(--ok); } .legend .bad::before { background: var(--bad); }
.login { max-width: 380px; margin: 12vh auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.4rem; display: grid; gap: .8rem; }
.refresh { display: flex; gap: .4rem; align-items: center; }
.refresh button { padding: .1rem .5rem; font-size: .85em; }
@media (max-width: 640px) { main { padding: .6rem; } th, td { padding: .35rem .4rem; } .hide-narrow { display: none; } }
`;

/**
 * The one script: refreshes the parts of the page marked `data-live` (by id) every few seconds from the same URL,
 * in place, so the operator keeps their scroll position, their open form and their selection. It waits while a
 * form field has focus, text is selected or the tab is hidden, and can be paused. Without it the pages still work.
 */
export const JS = `
(function () {
  var every = Number(document.body.getAttribute("data-refresh") || 0) * 1000;
  var button = document.getElementById("refresh-toggle");
  var state = document.getElementById("refresh-state");
  if (!every || !button) return;
  var paused = sessionStorage.getItem("pg-dispatch-refresh") === "paused";
  function show() {
    button.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "Auto-refresh paused" : "Auto-refresh every " + every / 1000 + " s";
  }
  button.addEventListener("click", function () {
    paused = !paused;
    sessionStorage.setItem("pg-dispatch-refresh", paused ? "paused" : "on");
    show();
  });
  show();
  function busy() {
    var a = document.activeElement;
    var selection = window.getSelection && String(window.getSelection());
    return paused || document.hidden || (a && a.closest && a.closest("form")) || selection;
  }
  function tick() {
    if (busy()) return setTimeout(tick, every);
    fetch(location.href, { credentials: "same-origin", redirect: "error", headers: { "x-pg-dispatch-refresh": "1" } })
      .then(function (res) {
        var type = res.headers.get("content-type") || "";
        if (!res.ok || type.indexOf("text/html") !== 0) throw new Error("refresh: " + res.status);
        return res.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next) el.replaceWith(document.importNode(next, true));
        });
        var stamp = document.getElementById("refreshed-at");
        if (stamp) stamp.textContent = new Date().toISOString().slice(11, 19) + " UTC";
      })
      .catch(function () { if (state) state.textContent = "Auto-refresh failed; retrying"; })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
`;

/** The tab icon (served, so that browsers do not ask the app's root for /favicon.ico). */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2456c9"/><path d="M4 8h8M9 5l3 3-3 3" stroke="#fff" stroke-width="1.8" fill="none"/></svg>`;
