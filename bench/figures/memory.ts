// Worker memory: resident set size of a process that runs only one peer, just before its worker starts on a
// pre-loaded queue and after the last outcome is written. Each peer first runs a warm-up of 2,000 events in the same
// process, so the two readings compare a warm worker with itself (compiled code, grown connection buffers and the
// heap's first sizing are one-time costs, not growth with the events handled). The run script starts this file as
// a child process:
//   node dist/bench/figures/memory.js <pg-dispatch|graphile-worker|pg-boss|raw SQL> <count> <database url>
import { pathToFileURL } from "node:url";
import { dispatchPeer } from "../peers/dispatch.ts";
import { graphilePeer } from "../peers/graphile.ts";
import { pgbossPeer } from "../peers/pgboss.ts";
import type { Peer } from "../peers/peer.ts";
import { rawPeer } from "../peers/raw.ts";
import { rssMb, until } from "../support.ts";

/** RSS in MB before and after dispatching `count` pre-loaded events. */
export async function memory(peer: Peer, count: number): Promise<{ before: number; after: number }> {
  await peer.reset();
  await run(peer, Math.min(WARM_UP, count), () => {});
  await peer.reset(); // the measured run pre-loads the same ids again
  let before = 0;
  await run(peer, count, () => (before = rssMb()));
  return { before, after: rssMb() };
}

const WARM_UP = 2_000;

/** Pre-loads `count` events, then runs the worker until every outcome is written; `ready` just before it starts. */
async function run(peer: Peer, count: number, ready: () => void): Promise<void> {
  await peer.preload(count);
  let handled = 0;
  ready();
  await peer.start(() => handled++);
  await until(() => handled >= count, `${count} events`, 300_000, 5);
  await until(async () => (await peer.unfinished()) === 0, "every outcome written", 60_000, 5);
  await peer.stop();
}

/** The peer factories by name, for the child process. */
export const PEERS: Record<string, (url: string) => Peer> = {
  "pg-dispatch": dispatchPeer,
  "graphile-worker": graphilePeer,
  "pg-boss": pgbossPeer,
  "raw SQL": rawPeer,
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, count, url] = process.argv.slice(2);
  const peer = PEERS[name](url);
  const result = await memory(peer, Number(count));
  await peer.close();
  process.stdout.write(JSON.stringify(result) + "\n");
}
