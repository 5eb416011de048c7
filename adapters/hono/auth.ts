import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { DispatchError } from "../../src/errors.ts";
import type { ErrorBody } from "./errors.ts";

/**
 * How the router checks who is calling: bearer token(s) (several, to rotate them), a function that verifies a bearer
 * token, any Hono middleware (JWT, basic auth, your session check), or `false` to serve without authentication
 * (only behind a gateway that authenticates for you).
 *
 * @example
 * ```ts
 * const auth: RouterAuth = { token: [process.env.OUTBOX_TOKEN!, process.env.OUTBOX_TOKEN_PREVIOUS!] };
 * ```
 */
export type RouterAuth =
  | { token: string | readonly string[] }
  | { verifyToken(token: string, c: Context): boolean | Promise<boolean> }
  | MiddlewareHandler
  | false;

/** The characters a bearer token may hold (RFC 6750 b64token); any other token could never match. */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * An auth option, checked: no authentication, the caller's own middleware, or a check of a bearer token (a list of
 * accepted tokens, or the caller's verify function). The router and the dashboard read the same option this way.
 */
export type CheckedAuth =
  | { kind: "none" }
  | { kind: "middleware"; middleware: MiddlewareHandler }
  | { kind: "tokens"; tokens: string[] }
  | { kind: "verify"; verifyToken: (token: string, c: Context) => boolean | Promise<boolean> };

/**
 * Checks an auth option once, when the router or dashboard is built. A missing option, an empty token list or a
 * token no request could send throws, saying what to pass.
 *
 * @example
 * ```ts
 * const checked = checkAuth({ token: "s3cret" }, "auth", "outboxDashboard"); // { kind: "tokens", tokens: ["s3cret"] }
 * ```
 */
export function checkAuth(auth: unknown, name: string, where = "outboxRouter"): CheckedAuth {
  if (auth === false) return { kind: "none" };
  if (typeof auth === "function") return { kind: "middleware", middleware: auth as MiddlewareHandler };
  if (auth === undefined || auth === null || typeof auth !== "object") {
    throw new DispatchError(
      "invalid_option",
      `${where} needs ${name}: { token: "..." } (or several), { verifyToken(token, c) }, a Hono middleware, or an explicit ${name}: false to serve without authentication.`,
    );
  }
  const keys = Object.keys(auth);
  if (keys.length !== 1 || (keys[0] !== "token" && keys[0] !== "verifyToken")) {
    throw new DispatchError("invalid_option", `${name} takes exactly one of { token } or { verifyToken }, got { ${keys.join(", ")} }.`);
  }
  if ("verifyToken" in auth) {
    const verifyToken = (auth as { verifyToken: unknown }).verifyToken;
    if (typeof verifyToken !== "function") throw new DispatchError("invalid_option", `${name}.verifyToken must be a function.`);
    return { kind: "verify", verifyToken: verifyToken as (token: string, c: Context) => boolean | Promise<boolean> };
  }
  const token = (auth as { token: unknown }).token;
  const tokens = Array.isArray(token) ? token : [token];
  const unset = tokens.findIndex((t) => t === undefined || t === "");
  if (unset >= 0) {
    const which = Array.isArray(token) ? `${name}.token[${unset}]` : `${name}.token`;
    throw new DispatchError(
      "invalid_option",
      `${which} is ${tokens[unset] === undefined ? "undefined" : "empty"}: is the environment variable it is read from set?`,
    );
  }
  if (tokens.length === 0 || !tokens.every((t) => typeof t === "string" && TOKEN.test(t))) {
    throw new DispatchError(
      "invalid_option",
      `${name}.token must be a non-empty string (or a non-empty list of them) of letters, digits and -._~+/ (base64 and hex tokens qualify).`,
    );
  }
  return { kind: "tokens", tokens: tokens as string[] };
}

/**
 * Checks an auth option once, when the router is built, and turns it into middleware (or null for `false`).
 * A missing option, an empty token list or a token no request could send throws, saying what to pass.
 *
 * @example
 * ```ts
 * const guard = authMiddleware({ token: "s3cret" }, "auth");
 * ```
 */
export function authMiddleware(auth: unknown, name: string): MiddlewareHandler | null {
  const checked = checkAuth(auth, name);
  if (checked.kind === "none") return null;
  if (checked.kind === "middleware") return checked.middleware;
  const messages = {
    noAuthenticationHeader: { message: failure("unauthorized", "Send an Authorization: Bearer <token> header.") },
    invalidAuthenticationHeader: { message: failure("invalid_request", "The Authorization header must be Bearer <token>.") },
    invalidToken: { message: failure("unauthorized", "The bearer token is not accepted for this route.") },
  };
  if (checked.kind === "verify") return bearerAuth({ verifyToken: checked.verifyToken, ...messages });
  return bearerAuth({ token: checked.tokens, ...messages });
}

function failure(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
