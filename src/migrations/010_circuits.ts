/**
 * Circuit breakers shared by every worker: when a worker's circuit for a destination opens (enough retryable failures
 * in a row), it records until when in the destination's row, and every other worker adopts that at its next read of
 * the controls (at most a second later while it has work), so a dead endpoint rests for all of them at once.
 * `circuit_cooldown_ms` is the opening's length, which a failed trial doubles. A trial that succeeds clears both.
 */
export default function (s: string): string {
  return `
alter table ${s}.destinations add column circuit_open_until timestamptz;
alter table ${s}.destinations add column circuit_cooldown_ms integer;`;
}
