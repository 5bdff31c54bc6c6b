// Starts a TypeScript worker (tests, `npm run dev`): registers tsx in this
// thread, then imports the entry named last in argv. Re-exports its default
// so Piscina finds the task handler.
import { register } from 'tsx/esm/api';

register();
const entry = process.argv[process.argv.length - 1];
const mod = await import(entry);
export default mod.default;
