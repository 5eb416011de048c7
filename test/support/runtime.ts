// The few things the cross-runtime scenario needs that Deno, Bun and Node spell differently: the runtime's name and
// version, environment variables, exiting, and an HTTP server for a fetch handler (Deno.serve, Bun.serve, and
// @hono/node-server on Node, which is node:http underneath). Everything else in the scenario is the same code.

/** A fetch-style request handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A server listening on 127.0.0.1 at an ephemeral port. */
export interface Served {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

interface DenoGlobal {
  version: { deno: string };
  env: { get(name: string): string | undefined };
  exit(code: number): never;
  serve(
    options: { port: number; hostname: string; onListen?: (addr: unknown) => void },
    handler: FetchHandler,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

interface BunGlobal {
  version: string;
  serve(options: { port: number; hostname: string; fetch: FetchHandler }): { port: number; stop(force?: boolean): void };
}

interface NodeProcess {
  version: string;
  env: Record<string, string | undefined>;
  exit(code: number): never;
}

const g = globalThis as { Deno?: DenoGlobal; Bun?: BunGlobal; process?: NodeProcess };

/** "deno", "bun" or "node". Bun and Deno also define `process`, so they are asked first. */
export function runtime(): "deno" | "bun" | "node" {
  if (g.Deno) return "deno";
  if (g.Bun) return "bun";
  return "node";
}

/** The runtime and its version, e.g. "deno 2.9.6". */
export function runtimeVersion(): string {
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${g.process!.version}`;
}

/** An environment variable, or undefined when unset or empty. */
export function env(name: string): string | undefined {
  return (g.Deno ? g.Deno.env.get(name) : g.process!.env[name]) || undefined;
}

/** Ends the process with this exit code. */
export function exit(code: number): never {
  return g.Deno ? g.Deno.exit(code) : g.process!.exit(code);
}

/** Serves `handler` with the runtime's own HTTP server on 127.0.0.1 at a free port. */
export async function serve(handler: FetchHandler): Promise<Served> {
  if (g.Deno) {
    const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
    return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
  }
  if (g.Bun) {
    const server = g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
    return {
      url: `http://127.0.0.1:${server.port}`,
      close() {
        server.stop(true);
        return Promise.resolve();
      },
    };
  }
  const { serve: nodeServe } = await import("@hono/node-server");
  return await new Promise((resolve) => {
    const server = nodeServe({ fetch: handler, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            // Keep-alive sockets from fetch would hold close() open until they time out.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close((error) => (error ? fail(error) : done()));
          }),
      });
    });
  });
}
