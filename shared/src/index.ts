export * from './errors';
export * from './limits';
export * from './ids';
export type * from './protocol';
export * from './entries';
export type * from './admin';
