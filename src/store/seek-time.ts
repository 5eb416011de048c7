import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * The sequence number where events stored at time $1 begin, found by bisecting the sequence numbers through the
 * primary key (about 20 one-row look-ups), because rows arrive in time order and there is no B-tree on
 * created_at (only BRIN, which cannot answer "the first row after" without reading most of the table). The events
 * list starts its window here when the filter has an end time, so "10 days ago" is one page away, not thirty.
 * Publishing order and created_at (the transaction's start) can disagree by as long as a transaction stays open, so
 * the caller asks for a time a margin later than it needs.
 */
export function selectSeqAtTime(schema: Schema): string {
  const s = schema.quoted;
  // Bisects x in [lo, hi] for the smallest x whose first row at or after it was stored at or after $1 (no row
  // counts as "after"); each step shrinks the range, so it ends after about log2(rows) steps.
  return `
with recursive bisect(lo, hi) as (
  select (select min(seq) from ${s}.events), (select max(seq) from ${s}.events) + 1
  union all
  select case when early then mid + 1 else lo end, case when early then hi else mid end
  from (
    select lo, hi, (lo + hi) / 2 as mid,
           coalesce((select created_at from ${s}.events where seq >= (lo + hi) / 2 order by seq limit 1) < $1::timestamptz, false) as early
    from bisect where lo < hi
  ) step
)
select min(hi) as seq from bisect`;
}

/** Where events stored at or after `at` begin (one past the newest when none is); null for an empty table. */
export async function seqAtTime(query: Query, schema: Schema, at: Date): Promise<string | null> {
  const [row] = await query(selectSeqAtTime(schema), [at]);
  return row?.seq == null ? null : String(row.seq);
}
