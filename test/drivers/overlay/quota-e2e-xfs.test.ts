// `spec.storage.size` end to end on a loop-mounted xfs state root: the suite is quota-e2e.ts.
import { quotaE2e } from './quota-e2e.js';

quotaE2e('xfs');
