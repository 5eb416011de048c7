import type { Query, Row } from "../client.ts";
import { EVENT_COLUMNS } from "../record.ts";
import type { Schema } from "../schema.ts";

/** One event by id, optionally narrowed by source (ids are unique per source). At most two rows, to spot ambiguity. */
export function selectEvent(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where id = $1 and ($2::text is null or source = $2)
limit 2`;
}

/** Reads an event; see {@link selectEvent}. */
export async function getEvent(query: Query, schema: Schema, id: string, source: string | null): Promise<Row[]> {
  return await query(selectEvent(schema), [id, source]);
}

/** Filters for {@link listEvents}. */
export interface EventFilter {
  status: string | null;
  type: string | null;
  source: string | null;
  /** Only events stored before this sequence number (keyset pagination). */
  before: string | null;
  limit: number;
}

/** Newest first, keyset-paginated on the sequence number, so deep pages cost what the first one does. */
export function selectEvents(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where ($1::text is null or status = $1)
  and ($2::text is null or type = $2)
  and ($3::text is null or source = $3)
  and ($4::bigint is null or seq < $4)
order by seq desc
limit $5`;
}

/** Lists events; see {@link selectEvents}. */
export async function listEvents(query: Query, schema: Schema, f: EventFilter): Promise<Row[]> {
  return await query(selectEvents(schema), [f.status, f.type, f.source, f.before, f.limit]);
}
