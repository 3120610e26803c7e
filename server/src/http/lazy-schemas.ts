/**
 * Route schemas compiled when first needed instead of all at start. Fastify compiles every
 * route's validator (Ajv) and response serializer (fast-json-stringify) inside `listen`: about
 * 0.7 s of CPU for this gateway's routes, most of a restarted gateway's time before it accepts
 * (BENCHMARKS.md, start-up). Here each compiler is the stock one, wrapped: a route's function is
 * compiled on its first call, and `warmSchemas()` (main.ts, right after listen) compiles the
 * rest one per event-loop turn, so the port is open at once and the first requests do not pay
 * either. Same compilers, same options: what validates and what is sent does not change.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Fn = ((...args: unknown[]) => unknown) & { errors?: unknown };
type Compile = (route: unknown) => Fn;
type Factory = (externalSchemas: unknown, options: unknown) => Compile;

const pending = new Set<() => void>();

function lazy(compile: Compile): Compile {
  return (route) => {
    let fn: Fn | undefined;
    const ready = () => {
      pending.delete(ready);
      fn ??= compile(route);
      return fn;
    };
    pending.add(ready);
    const call = ((...args: unknown[]) => ready()(...args)) as Fn;
    // Fastify reads a failed validation's `errors` from the function it was given.
    Object.defineProperty(call, 'errors', { get: () => fn?.errors });
    return call;
  };
}

const validators = (AjvCompiler as unknown as () => Factory)();
const serializers = (SerializerSelector as unknown as () => Factory)();

/** Fastify's `schemaController` option: the stock compilers, compiled on first use. */
export const LAZY_SCHEMAS = {
  compilersFactory: {
    buildValidator: (ext: unknown, opts: unknown) => lazy(validators(ext, opts)),
    buildSerializer: (ext: unknown, opts: unknown) => lazy(serializers(ext, opts)),
  },
} as unknown as NonNullable<FastifyServerOptions['schemaController']>;

/** How many route schemas are not compiled yet (tests). */
export const pendingSchemas = (): number => pending.size;

/** Compiles every schema not yet compiled, one per turn of the event loop; resolves when done. A schema that fails to compile is reported, not thrown. */
export function warmSchemas(onError: (e: unknown) => void = () => {}): Promise<void> {
  return new Promise((res) => {
    const next = () => {
      const first = pending.values().next();
      if (first.done) return res();
      try {
        first.value();
      } catch (e) {
        onError(e);
      }
      setImmediate(next);
    };
    setImmediate(next);
  });
}
