import { DispatchError } from "./errors.ts";

// listEvents' page cursors: the last sequence number of a page, base64 so that callers treat it as opaque rather
// than doing arithmetic on it.

/** The largest bigint, the column type of the sequence number. */
const MAX_SEQ = 9223372036854775807n;

/** The cursor for the page after the row with this sequence number. */
export function encodeCursor(seq: string): string {
  return btoa(seq).replace(/=+$/, "");
}

/** The sequence number a cursor stands for; a cursor this outbox did not hand out is refused. */
export function decodeCursor(cursor: unknown): string {
  let seq = "";
  try {
    seq = typeof cursor === "string" ? atob(cursor) : "";
  } catch {
    // reported below
  }
  // A sequence number is a bigint: 19 digits can still be past its range, which the database would refuse.
  if (!/^[1-9][0-9]{0,18}$/.test(seq) || BigInt(seq) > MAX_SEQ) {
    throw new DispatchError("invalid_option", "cursor is not one this outbox returned; pass nextCursor from the previous page.", { field: "cursor" });
  }
  return seq;
}
