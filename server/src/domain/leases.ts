export { holdLease, jobLeaseKey, releaseLease } from '../store/leases';
