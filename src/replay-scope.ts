import { DispatchError } from "./errors.ts";
import type { StoreFilter } from "./filter.ts";
import type { TypePattern } from "./registry.ts";
import { typesExpression } from "./store/backlog-gauges.ts";

/** A registered destination's name and the event type patterns it was registered for. */
export interface DestinationRoute {
  name: string;
  patterns: TypePattern[];
}

/**
 * The events a replay to `destination` may reach, given the destinations this process registers (`routes`). A name no
 * worker registers would leave a delivery pending that nothing attempts, on an event that reads published: where this
 * process registers destinations (a worker's config), the name must be one of them, and the replay takes only the
 * events whose type it is registered for (any other would wait for a delivery nothing makes). A process that
 * registers none (a script, the router or dashboard alone) cannot know the workers' and is trusted. The replay, its
 * dry run and the dashboard's preview all go through here, so the count shown is the count replayed.
 */
export function replayScope(filter: StoreFilter, destination: string, routes: readonly DestinationRoute[]): StoreFilter {
  const route = routes.find((r) => r.name === destination);
  if (routes.length && !route) {
    throw new DispatchError(
      "invalid_option",
      `No destination named ${JSON.stringify(destination)} is registered here (registered: ${routes.map((r) => r.name).join(", ")}); a replay goes only to a destination the workers register.`,
      { field: "destination" },
    );
  }
  return route ? { ...filter, routed: typesExpression(route.patterns) } : filter;
}
