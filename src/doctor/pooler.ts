import postgres, { type Sql } from "postgres";
import { type Check, type Finding, healthy, problem } from "./finding.ts";
import { wakeMode } from "./wake.ts";

/**
 * Whether LISTEN reaches PostgreSQL, tested the way the worker depends on it: LISTEN on one connection (postgres.js
 * keeps a dedicated one for it, as the worker's listener does), NOTIFY from another, and wait for the notification.
 * That round trip is the reliable detection: a pooler in transaction or statement mode (PgBouncer, RDS Proxy,
 * Supavisor, pgcat) hands the listening server connection to other clients after the LISTEN, so the notification
 * never comes back; `SHOW pool_mode` is no help, since only PgBouncer's admin console answers it. What answered the
 * connection is the supporting evidence: PostgreSQL's own port (`inet_server_port()`) differs from the one dialled,
 * or is null (a Unix socket) for a TCP connection, when something sits in between. A channel of its own keeps the
 * probe from waking workers. With the Outbox's `listenUrl`, the LISTEN goes where the worker's does (a connection of
 * its own to that URL) and the NOTIFY through the outbox's pool, as publishers send it.
 */
export const pooler: Check = async (patient, { listenTimeoutMs }) => {
  const mode = wakeMode(patient);
  if (mode !== "notify") {
    return [healthy("pooler", `The worker wakes by ${mode}, not LISTEN; a pooler in front does not break wake-ups.`, { wake: mode })];
  }
  const { sql } = patient;
  let own: Sql | null = null;
  try {
    // The driver parses the URL at once: a raw "#" in the password stops a worker's start just as a closed port does.
    if (patient.listenUrl !== undefined) own = postgres(patient.listenUrl, { max: 1, fetch_types: false, onnotice: () => {} });
  } catch (err) {
    return [unreachable(err)];
  }
  const listener = own ?? sql;
  let between: Awaited<ReturnType<typeof middleman>>;
  let result: Awaited<ReturnType<typeof roundTrip>>;
  try {
    try {
      between = await middleman(listener);
    } catch (err) {
      if (own === null) throw err;
      return [unreachable(err)];
    }
    result = await roundTrip(listener, sql, listenTimeoutMs);
  } finally {
    await own?.end({ timeout: 1 });
  }
  const details = { ...between, ...result, listenUrl: own !== null };
  const on = own ? " on the worker's listenUrl connection" : "";
  if (result.arrivedMs !== null) {
    const via = between.middleman ? ` through a proxy or session-mode pooler (${between.middleman})` : "";
    return [healthy("pooler", `LISTEN/NOTIFY works${on}${via}: a notification from another connection arrived in ${result.arrivedMs} ms.`, details)];
  }
  const why = result.error ? `LISTEN failed (${result.error})` : `a notification sent from another connection did not arrive within ${listenTimeoutMs} ms`;
  const who = between.middleman
    ? `a pooler in transaction or statement mode sits in front (${between.middleman})`
    : "a pooler in transaction or statement mode probably sits in front";
  return [problem(
    "pooler",
    "error",
    `LISTEN does not work on ${own ? "the worker's listenUrl connection" : "this connection"}: ${why}; ${who}. The worker would only find new events at its safety sweep, seconds to minutes late.`,
    "Give the worker a connection straight to PostgreSQL, or through a pool in session mode (PgBouncer: pool_mode = session for that database or user); publishers may stay on the transaction pool. Or run the worker with wake: \"poll\".",
    details,
  )];
};

/** The finding for a listenUrl the doctor could not connect to: the worker would not start its listener either. */
function unreachable(err: unknown): Finding {
  const why = err instanceof Error ? err.message : String(err);
  return problem(
    "pooler",
    "error",
    `The worker's listenUrl cannot be reached (${why}): a worker of this outbox does not start, since it opens its LISTEN connection there.`,
    "Point listenUrl at PostgreSQL itself, or at a pool in session mode: check its host, port, database, user and password, and percent-encode special characters in the user name and password (\"@\" as %40, \"#\" as %23, \"/\" as %2F).",
    { listenUrl: true, error: why },
  );
}

/** Compares the port dialled with the one PostgreSQL says it answered on. */
async function middleman(sql: Sql): Promise<{ middleman: string | null; dialledPort: number | null; serverPort: number | null }> {
  const host = sql.options.host?.[0] ?? "";
  const dialled = sql.options.port?.[0] ?? null;
  const [row] = await sql.unsafe(`select inet_server_port() as port`);
  const served = row.port == null ? null : Number(row.port);
  const tcp = !host.startsWith("/");
  let said: string | null = null;
  if (tcp && served === null) said = `connected over TCP to port ${dialled}, but PostgreSQL was reached over a Unix socket`;
  else if (tcp && dialled !== null && served !== null && served !== dialled) said = `port ${dialled} answered, PostgreSQL listens on ${served}`;
  return { middleman: said, dialledPort: dialled, serverPort: served };
}

/** LISTEN on `listener`, NOTIFY from `sql` (the pool), and how long the notification took (null when it never came). */
async function roundTrip(listener: Sql, sql: Sql, timeoutMs: number): Promise<{ arrivedMs: number | null; error: string | null }> {
  const channel = `pg_dispatch_doctor_${crypto.randomUUID().replaceAll("-", "")}`;
  const token = crypto.randomUUID();
  let arrived!: () => void;
  const received = new Promise<void>((resolve) => (arrived = resolve));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  let listening: { unlisten(): Promise<void> } | undefined;
  try {
    const listen = listener.listen(channel, (payload) => {
      if (payload === token) arrived();
    });
    listen.catch(() => {}); // answered by the race below when it loses
    const listened = await Promise.race([listen, expired]);
    if (listened === "timeout") return { arrivedMs: null, error: `no answer to LISTEN within ${timeoutMs} ms` };
    listening = listened;
    const start = performance.now();
    await sql.unsafe(`select pg_notify($1, $2)`, [channel, token]);
    const outcome = await Promise.race([received.then(() => "arrived" as const), expired]);
    return { arrivedMs: outcome === "arrived" ? Math.round(performance.now() - start) : null, error: null };
  } catch (err) {
    return { arrivedMs: null, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
    await listening?.unlisten().catch(() => {});
  }
}
