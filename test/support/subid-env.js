// Every test (and every CLI it starts) uses a subordinate id pool of its own: corral appends its
// `corral` entry to these files when a container gets an `auto` user namespace (the default where
// the kernel allows it), and the host's /etc/subuid and /etc/subgid must stay untouched by the suite.
import { mkdirSync } from 'node:fs';

process.env.CORRAL_SUBUID_FILE ??= '/tmp/corral-test-subid/subuid';
process.env.CORRAL_SUBGID_FILE ??= '/tmp/corral-test-subid/subgid';
mkdirSync('/tmp/corral-test-subid', { recursive: true });
