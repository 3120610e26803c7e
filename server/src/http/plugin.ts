/**
 * What every REST route module is: a Fastify plugin typed by its TypeBox schemas
 * (the type provider turns a route's `schema` into its `req.body`, `req.params`
 * and `req.query` types: no casts), registered with the app's context.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Ctx } from '../realtime/context';
import type { Gateway } from '../realtime/gateway';

export interface RouteOptions {
  ctx: Ctx;
  gw: Gateway;
}

export type Routes<Extra extends object = object> = FastifyPluginAsyncTypebox<RouteOptions & Extra>;
