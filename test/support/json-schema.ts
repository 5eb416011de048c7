// A small JSON Schema check for the router's OpenAPI document: the keywords that document uses, and no others (an
// unknown keyword throws, so a schema this cannot read never passes by being skipped). `closed` treats every object
// schema with `properties` as if it said `additionalProperties: false`: a response field the document does not list
// is an error, so the document cannot fall behind what the router answers.

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(["description", "examples", "default", "title"]);
const KEYWORDS = new Set([
  "$ref", "type", "enum", "const", "required", "properties", "additionalProperties", "items", "oneOf", "allOf",
  "minimum", "maximum", "minLength", "maxLength", "maxItems", "format",
]);

/** Checks `value` against `schema`, resolving `#/components/schemas/...` in `doc`; returns the errors, by path. */
export function schemaErrors(doc: Schema, schema: Schema, value: unknown, options: { closed?: boolean } = {}): string[] {
  const errors: string[] = [];
  check(schema, value, "$", false);
  return errors;

  function resolve(s: Schema): Schema {
    if (typeof s.$ref !== "string") return s;
    const name = s.$ref.replace(/^#\/components\/schemas\//, "");
    const target = ((doc.components as Schema).schemas as Record<string, Schema>)[name];
    if (!target) throw new Error(`Unresolvable $ref ${s.$ref}`);
    return target;
  }

  /** The properties an object schema names, through $ref and allOf (for `closed`). */
  function named(s: Schema): string[] {
    const r = resolve(s);
    return [...Object.keys((r.properties as Schema | undefined) ?? {}), ...((r.allOf as Schema[] | undefined) ?? []).flatMap(named)];
  }

  function check(raw: Schema, v: unknown, path: string, inAllOf: boolean): void {
    for (const key of Object.keys(raw)) {
      if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`${path}: the checker does not know the keyword "${key}"`);
    }
    const s = resolve(raw);
    if (s !== raw) return check(s, v, path, inAllOf);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
      if (!types.some((t) => isType(v, t))) return void errors.push(`${path}: expected ${types.join(" or ")}, got ${JSON.stringify(v)}`);
    }
    if (s.enum && !(s.enum as unknown[]).includes(v)) errors.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
    if ("const" in s && s.const !== v) errors.push(`${path}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
    if (typeof v === "number") {
      if (typeof s.minimum === "number" && v < s.minimum) errors.push(`${path}: ${v} is under ${s.minimum}`);
      if (typeof s.maximum === "number" && v > s.maximum) errors.push(`${path}: ${v} is over ${s.maximum}`);
    }
    if (typeof v === "string") {
      if (typeof s.minLength === "number" && v.length < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
      if (typeof s.maxLength === "number" && v.length > s.maxLength) errors.push(`${path}: longer than ${s.maxLength}`);
      if (s.format === "date-time" && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
        errors.push(`${path}: ${JSON.stringify(v)} is not an RFC 3339 date-time`);
      }
    }
    if (Array.isArray(v)) {
      if (typeof s.maxItems === "number" && v.length > s.maxItems) errors.push(`${path}: more than ${s.maxItems} items`);
      if (s.items) v.forEach((item, i) => check(s.items as Schema, item, `${path}[${i}]`, false));
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      for (const name of (s.required as string[] | undefined) ?? []) if (!(name in o)) errors.push(`${path}: missing ${name}`);
      const properties = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const [name, value] of Object.entries(o)) {
        if (properties[name]) check(properties[name], value, `${path}.${name}`, false);
        else if (s.additionalProperties === false) errors.push(`${path}: unexpected property ${name}`);
        else if (s.additionalProperties && typeof s.additionalProperties === "object") check(s.additionalProperties as Schema, value, `${path}.${name}`, false);
        else if (options.closed && !inAllOf && s.properties && !s.allOf) errors.push(`${path}: ${name} is not in the document`);
      }
    }
    if (s.allOf) {
      const parts = s.allOf as Schema[];
      for (const part of parts) check(part, v, path, true);
      if (options.closed && v !== null && typeof v === "object" && !Array.isArray(v)) {
        const known = new Set(parts.flatMap(named));
        for (const name of Object.keys(v)) if (!known.has(name)) errors.push(`${path}: ${name} is not in the document`);
      }
    }
    if (s.oneOf) {
      const matching = (s.oneOf as Schema[]).filter((option) => schemaErrors(doc, option, v, options).length === 0).length;
      if (matching !== 1) errors.push(`${path}: matches ${matching} of the oneOf schemas, not exactly one`);
    }
  }
}

function isType(v: unknown, type: string): boolean {
  switch (type) {
    case "null": return v === null;
    case "string": return typeof v === "string";
    case "boolean": return typeof v === "boolean";
    case "integer": return Number.isInteger(v);
    case "number": return typeof v === "number";
    case "array": return Array.isArray(v);
    case "object": return v !== null && typeof v === "object" && !Array.isArray(v);
    default: throw new Error(`Unknown JSON Schema type ${type}`);
  }
}
