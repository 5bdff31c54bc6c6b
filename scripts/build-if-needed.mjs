// `npm start` builds first when dist/ is missing or older than src/.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const built = existsSync('dist/main.js') ? statSync('dist/main.js').mtimeMs : 0;
if (built === 0 || newest('src') > newest('dist')) {
  execSync('npm run build', { stdio: 'inherit' });
}
