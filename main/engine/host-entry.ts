/** Entry of the engine host process (bundled to dist/engine-host.js). */
import { runHost } from './host';

runHost();
