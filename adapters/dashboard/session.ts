// Who may see the dashboard, and proof that a POST came from its own pages.
//
// A browser signs in with the token on a login form; the dashboard keeps it in a cookie that is HttpOnly (no script
// reads it), SameSite=Strict (no other site's page sends it), Secure unless the dashboard is served from
// http://localhost, and scoped to the dashboard's path. Scripts can send `Authorization: Bearer <token>` instead.
// Every POST must carry the per-browser CSRF token (a random value in its own cookie, repeated in a hidden field:
// another site can neither read nor set it) and, when the browser says where it came from, come from this origin.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import { toBase64 } from "../../src/base64.ts";
import type { CheckedAuth } from "../hono/auth.ts";

export const SESSION_COOKIE = "pg_dispatch_session";
export const CSRF_COOKIE = "pg_dispatch_csrf";
const SESSION_SECONDS = 12 * 60 * 60;

/** True when the request carries a token the option accepts (bearer header first, then the session cookie). */
export async function signedIn(auth: CheckedAuth, c: Context): Promise<boolean> {
  if (auth.kind === "none" || auth.kind === "middleware") return true;
  const header = c.req.header("authorization");
  const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : getCookie(c, SESSION_COOKIE);
  return token ? await accepts(auth, token, c) : false;
}

/** Checks one token in constant time against each accepted one, or with the caller's verify function. */
export async function accepts(auth: CheckedAuth, token: string, c: Context): Promise<boolean> {
  if (auth.kind === "verify") return (await auth.verifyToken(token, c)) === true;
  if (auth.kind !== "tokens") return false;
  let ok = false;
  for (const t of auth.tokens) if (await timingSafeEqual(t, token)) ok = true;
  return ok;
}

/** Stores an accepted token in the session cookie. */
export function startSession(c: Context, base: string, token: string): void {
  setCookie(c, SESSION_COOKIE, token, cookieOptions(c, base, SESSION_SECONDS));
}

/** Forgets the session. */
export function endSession(c: Context, base: string): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c, base, 0));
}

/** The browser's CSRF token, made and set as a cookie on its first page. */
export function csrfToken(c: Context, base: string): string {
  const existing = getCookie(c, CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  setCookie(c, CSRF_COOKIE, token, cookieOptions(c, base, undefined));
  return token;
}

/**
 * Why a POST is refused, or null when it may proceed: the hidden field must match the cookie, and a browser that
 * names its origin (`Origin`, or `Sec-Fetch-Site`) must name this one. Behind a proxy that terminates TLS the scheme
 * may differ, so hosts are compared.
 */
export async function csrfProblem(c: Context, field: unknown): Promise<string | null> {
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    let host = "";
    try {
      host = new URL(origin).host;
    } catch {
      // "null" and other non-URLs: refused below
    }
    if (host !== new URL(c.req.url).host) return "This form was sent from another site.";
  } else {
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin" && site !== "none") return "This form was sent from another site.";
  }
  const cookie = getCookie(c, CSRF_COOKIE);
  // No cookie at all on plain http away from localhost: the browser dropped the Secure cookie, and reloading cannot
  // help (behind a proxy that terminates TLS the request is plain http too, hence the "if").
  if (!cookie && new URL(c.req.url).protocol === "http:" && !isLocal(c)) {
    return "Your browser sent back no security cookie. If this page's address starts with http:// (not https://), " +
      "that is why: the dashboard's cookies are Secure, and browsers keep them only over HTTPS or on localhost. Serve " +
      "the dashboard over HTTPS (or open it at http://localhost), or give it a Hono middleware such as basic auth as auth.";
  }
  if (!cookie || typeof field !== "string" || !(await timingSafeEqual(cookie, field))) {
    return "The form's security token is missing or stale. Reload the page and try again.";
  }
  return null;
}

/** True for plain http to localhost, which browsers treat as a secure context (and the only such plain-http host). */
function isLocal(c: Context): boolean {
  const url = new URL(c.req.url);
  return url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

function cookieOptions(c: Context, base: string, maxAge: number | undefined) {
  // Browsers treat http://localhost as a secure context but do not store Secure cookies from plain http elsewhere.
  return { path: base || "/", httpOnly: true, secure: !isLocal(c), sameSite: "Strict" as const, maxAge };
}

/**
 * The pages are matched without a trailing slash (Hono's strict routing): an address typed or linked with one
 * (`/outbox/ui/`) that matched nothing is sent, for GET and HEAD, to the same path without it. The Location is the
 * path alone, so a proxy in front keeps its scheme and host, and never one that starts with `//` (another site).
 */
export const trailingSlash: MiddlewareHandler = async (c, next) => {
  await next();
  const path = c.req.path;
  if (c.res.status !== 404 || (c.req.method !== "GET" && c.req.method !== "HEAD") || !path.endsWith("/")) return;
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "" || trimmed.startsWith("//")) return;
  c.res = c.redirect(`${trimmed}${new URL(c.req.url).search}`, 301);
};

/** Headers on every response: a CSP with no inline script or style, no framing, no caching, no referrer to other sites. */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  // Not no-referrer: with it, browsers send `Origin: null` on the dashboard's own form posts, and the origin check
  // could not tell them from a forged one. Addresses (event ids in them) still never leave for another site.
  c.header("Referrer-Policy", "same-origin");
  c.header("Cache-Control", "no-store");
};
