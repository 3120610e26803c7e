/**
 * Server-side parsers: untrusted input is narrowed in one function per direction.
 * Uses TypeBox's compiled checks (which build code with `new Function`), so this
 * module is for Node only; browsers use client-parse.ts.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TSchema, Static } from '@sinclair/typebox';
import { HarkError } from './errors';
import { MAX_MESSAGE_CHARS } from './limits';
import { OperatorToServer as OperatorSchema, VisitorToServer as VisitorSchema } from './protocol';
import type { OperatorToServer, VisitorToServer } from './protocol';

const visitorTypes = new Set(VisitorSchema.anyOf.map((s) => s.properties.type.const as string));
const operatorTypes = new Set(OperatorSchema.anyOf.map((s) => s.properties.type.const as string));
const visitorCheck = new Map(VisitorSchema.anyOf.map((s) => [s.properties.type.const as string, TypeCompiler.Compile(s)]));
const operatorCheck = new Map(OperatorSchema.anyOf.map((s) => [s.properties.type.const as string, TypeCompiler.Compile(s)]));

function parseFrame<U>(raw: string | Buffer, types: Set<string>, checks: Map<string, { Check(v: unknown): boolean }>): U {
  let obj: unknown;
  try {
    obj = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new HarkError('BAD_FRAME', 'The frame is not valid JSON.');
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new HarkError('BAD_FRAME', 'A frame must be a JSON object.');
  const type = (obj as { type?: unknown }).type;
  if (typeof type !== 'string') throw new HarkError('BAD_FRAME', 'A frame needs a string "type".');
  if (!types.has(type)) throw new HarkError('UNKNOWN_TYPE', `Unknown frame type "${type.slice(0, 40)}".`);
  if (!checks.get(type)?.Check(obj)) throw new HarkError('BAD_FRAME', `The "${type}" frame does not match its schema.`);
  return obj as U;
}

export function parseVisitorToServer(raw: string | Buffer): VisitorToServer {
  return parseFrame<VisitorToServer>(raw, visitorTypes, visitorCheck);
}
export function parseOperatorToServer(raw: string | Buffer): OperatorToServer {
  return parseFrame<OperatorToServer>(raw, operatorTypes, operatorCheck);
}

/** Trims and checks a chat message's text: never empty, never over MAX_MESSAGE_CHARS. */
export function checkText(text: string, files = false): string {
  const t = text.trim();
  // A message with attachments may have no text.
  if (!t && !files) throw new HarkError('EMPTY_MESSAGE');
  if (t.length > MAX_MESSAGE_CHARS) throw new HarkError('MESSAGE_TOO_LONG');
  return t;
}

const compiled = new WeakMap<TSchema, { Check(v: unknown): boolean }>();
/** Parses any value read back from storage or a REST body against a schema. */
export function parseWith<S extends TSchema>(schema: S, value: unknown, code: 'BAD_REQUEST' | 'INTERNAL' = 'BAD_REQUEST'): Static<S> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  if (!c.Check(value)) throw new HarkError(code);
  return value as Static<S>;
}

