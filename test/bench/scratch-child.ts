/**
 * A child for common.test.ts (not a test itself): marks the files named on its command line as scratch,
 * says "ready" and waits for a signal.
 */
import { scratch } from '../../bench/common';

for (const file of process.argv.slice(2)) scratch(file);
process.stdout.write('ready\n');
setInterval(() => undefined, 1000);
