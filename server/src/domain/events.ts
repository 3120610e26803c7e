/** The domain events (their format and parser live with the log that stores them: store/events.ts). */
export * from '../store/events';
