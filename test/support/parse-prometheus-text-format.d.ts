// The parser ships no types; the tests read its output as plain objects.
declare module "parse-prometheus-text-format" {
  export default function parse(text: string): unknown[];
}
