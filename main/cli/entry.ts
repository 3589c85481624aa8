/** Entry of the hearth command (bundled to dist/cli.js). */
import { runCli } from './hearth';

runCli();
