/**
 * Media types (the value of a Content-Type or `datacontenttype`), read the same way by every adapter.
 *
 * @module
 */

/**
 * The media type of a Content-Type value, lower-cased and without parameters, or "" when absent.
 *
 * @example
 * ```ts
 * mediaType("Application/JSON; charset=utf-8"); // "application/json"
 * ```
 */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * True for JSON media types: `application/json`, `text/json` and any `+json` suffix, ignoring parameters.
 *
 * @example
 * ```ts
 * isJsonMediaType("application/vnd.api+json; charset=utf-8"); // true
 * isJsonMediaType("application/xml");                          // false
 * ```
 */
export function isJsonMediaType(contentType: string): boolean {
  const media = mediaType(contentType);
  return media === "application/json" || media === "text/json" || media.endsWith("+json");
}

/**
 * True for the CloudEvents envelope media types (`application/cloudevents+json`, `application/cloudevents-batch+json`,
 * and any other `application/cloudevents` type): a receiver reads such a body as whole events, not as event data.
 *
 * @example
 * ```ts
 * isCloudEventsMediaType("application/cloudevents+json"); // true
 * ```
 */
export function isCloudEventsMediaType(contentType: string): boolean {
  return mediaType(contentType).startsWith("application/cloudevents");
}
