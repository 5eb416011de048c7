import { type Check, healthy, problem } from "./finding.ts";

/**
 * How full the server's NOTIFY queue is. It fills when a session that LISTENs stays inside a transaction (it cannot
 * consume until it ends), and when it is full every commit that notifies fails ("too many notifications in the NOTIFY
 * queue"): publishing stops, not just the wake-ups.
 */
export const notificationQueue: Check = async ({ sql }) => {
  const [{ usage }] = await sql.unsafe(`select pg_notification_queue_usage()::float8 as usage`);
  const share = Number(usage);
  const percent = `${(share * 100).toFixed(share < 0.001 ? 0 : 1)}%`;
  const details = { usage: share };
  if (share < WARN) return [healthy("notification-queue", `The notification queue is ${percent} full.`, details)];
  return [problem(
    "notification-queue",
    share < ERROR ? "warning" : "error",
    `The notification queue is ${percent} full: a listening session is not consuming, and when the queue is full every commit that notifies fails, publishing included.`,
    "Find the session that LISTENs inside a long transaction (see the transactions check; PostgreSQL also logs its pid) and end it: SELECT pg_terminate_backend(<pid>);. Bulk producers can publish with { notify: false }.",
    details,
  )];
};

const WARN = 0.1;
const ERROR = 0.5;
