import init from "./001_init.ts";
import dashboard from "./003_dashboard.ts";

/** A versioned DDL step; `sql` receives the quoted schema name. */
export interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/** Every migration, in the order they apply. Append; never edit one that has shipped. */
export const migrations: Migration[] = [
  { version: 1, name: "init", sql: init },
  { version: 3, name: "dashboard", sql: dashboard },
];
