/**
 * Live delivery as the transport sees it: the hub (store/hub.ts) that subscribes
 * to pub/sub and dispatches entries and typed signals (store/signals.ts) to
 * sockets. Types only: the app builds the hub and hands it to the sockets.
 */
export type { ConvListener, Hub, OperatorListener, SiteListener, VisitorListener } from '../store/hub';
export type { ConvSignal, OperatorSignal, SiteSignal, VisitorSignal } from '../store/signals';
