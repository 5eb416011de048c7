import init from "./001_init.ts";
import parked from "./002_parked.ts";
import dashboard from "./003_dashboard.ts";
import attempts from "./004_attempts.ts";
import leaseExpiries from "./005_lease_expiries.ts";
import destinations from "./006_destinations.ts";
import rateLimits from "./007_rate_limits.ts";
import autovacuum from "./008_autovacuum.ts";
import publishIndexes from "./009_publish_indexes.ts";
import circuits from "./010_circuits.ts";

/** A versioned DDL step; `sql` receives the quoted schema name. */
export interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/** Every migration, in the order they apply. Append; never edit one that has shipped. */
export const migrations: Migration[] = [
  { version: 1, name: "init", sql: init },
  { version: 2, name: "parked", sql: parked },
  { version: 3, name: "dashboard", sql: dashboard },
  { version: 4, name: "attempts", sql: attempts },
  { version: 5, name: "lease_expiries", sql: leaseExpiries },
  { version: 6, name: "destinations", sql: destinations },
  { version: 7, name: "rate_limits", sql: rateLimits },
  { version: 8, name: "autovacuum", sql: autovacuum },
  { version: 9, name: "publish_indexes", sql: publishIndexes },
  { version: 10, name: "circuits", sql: circuits },
];
