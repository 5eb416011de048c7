// What a page's URL or an action's form asks for: the form's fields, and the filters of a bulk retry and a replay.
import type { Context } from "hono";
import type { EventFilter } from "../../src/filter.ts";
import { filterFromQuery } from "./urls.ts";

/**
 * A replay's target and filter from the URL or the form: `destination` names where to send the events (not a filter
 * on them, as on the events page), and only finished statuses make sense.
 */
export function replayRequest(query: URLSearchParams): { destination: string | undefined; filter: EventFilter; problems: string[] } {
  const { filter, problems } = filterFromQuery(query);
  const { destination, ...rest } = filter;
  if (rest.status !== undefined && rest.status !== "published" && rest.status !== "failed") {
    problems.push("Only finished events can be replayed: status must be published or failed, or left out.");
    delete rest.status;
  }
  return { destination, filter: rest, problems };
}

/** A bulk retry always means failed events; a status in the URL is dropped rather than refused. */
export function withoutStatus(filter: EventFilter): EventFilter {
  const { status: _status, ...rest } = filter;
  return rest;
}

/** The fields of a posted form (urlencoded or multipart); anything else is an empty form. */
export async function formOf(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data")) return {};
  return await c.req.parseBody();
}

/** A non-empty text field, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
