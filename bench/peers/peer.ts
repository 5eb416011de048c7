// What a figure needs from each system under test: pg-dispatch, graphile-worker, raw SQL.

/** Called at handler entry with the event's id. */
export type OnEvent = (id: string) => void;

/** How the worker delivers each event. */
export interface WorkerSetup {
  /** Local no-op handlers per event (pg-dispatch keeps one delivery state per handler). Default 1. */
  destinations?: number;
  /** POST each event to this URL instead (pg-dispatch: adapters/webhook.ts; others: fetch). */
  webhookUrl?: string;
  /** pg-dispatch's safety sweep, when a figure needs it moved out of its window. Default: the worker's (30 s). */
  sweepIntervalMs?: number;
  /** pg-dispatch's attempt history; default on. */
  history?: boolean;
  /** pg-dispatch's `telemetry` option; default on. */
  telemetry?: boolean;
  /** Register the OpenTelemetry SDK (no-op exporters) for the run, as an instrumented application would. */
  otel?: boolean;
}

/** One system under test, on its own schema. */
export interface Peer {
  readonly name: string;
  /** Drops and recreates the peer's tables: every measurement starts from an empty queue. */
  reset(): Promise<void>;
  /** Publishes one event in a transaction of its own; resolves once committed. */
  publish(id: string, i: number): Promise<void>;
  /** Publishes many events in one transaction. */
  publishBulk(ids: string[], first: number): Promise<void>;
  /** Loads events without waking anyone (pre-loading for the dispatch figures). */
  preload(count: number): Promise<void>;
  /** Starts a worker whose handler calls `onEvent`. */
  start(onEvent: OnEvent, setup?: WorkerSetup): Promise<void>;
  stop(): Promise<void>;
  /** Events not yet finished, as the database sees them. */
  unfinished(): Promise<number>;
  /** Anything the worker runs in the database while idle that the peer can keep open: a transaction that has
   * published (with its NOTIFY) but not committed. Returns a function that rolls it back. */
  holdUncommitted(): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** Statements its clients have sent so far, where the peer can count them (an exact idle figure). */
  statements?(): number;
}
