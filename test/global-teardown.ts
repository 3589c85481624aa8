/** Jest global teardown: removes the run's temporary folder (test/run-temp.ts). */
import { leaveRunTemp } from './run-temp';

export default function globalTeardown(): void {
  leaveRunTemp();
}
