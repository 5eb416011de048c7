import { type Html, html } from "../html.ts";
import type { PageContext } from "../layout.ts";
import { home } from "../urls.ts";

/** The sign-in form: the dashboard's token, sent once and kept in an HttpOnly cookie. */
export function loginPage(p: PageContext, next: string, problem: string | null): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · pg-dispatch</title><link rel="icon" href="${p.base}/assets/favicon.svg"><link rel="stylesheet" href="${p.base}/assets/dashboard.css"></head>
<body><form class="login" method="post" action="${p.base}/login">
<h1>pg-dispatch</h1>
${problem ? html`<p class="notice problem">${problem}</p>` : ""}
<input type="hidden" name="csrf" value="${p.csrf}"><input type="hidden" name="next" value="${next}">
<label>Access token<input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

/** A short page for a refused request (read-only, a forged form, a missing event). */
export function problemPage(p: PageContext, title: string, message: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · pg-dispatch</title><link rel="icon" href="${p.base}/assets/favicon.svg"><link rel="stylesheet" href="${p.base}/assets/dashboard.css"></head>
<body><main><h1>${title}</h1><p class="notice problem">${message}</p><p><a href="${home(p.base)}">Back to the overview</a></p></main></body></html>`;
}
