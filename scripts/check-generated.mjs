// Regenerates the TypeScript contracts and fails if that changes anything: generated code is never edited by
// hand and never stale.
import { execSync } from 'node:child_process';

execSync('npm run --silent proto:generate', { stdio: 'inherit' });
const diff = execSync('git status --porcelain -- packages/contracts/src/gen', { encoding: 'utf8' });
if (diff.trim() !== '') {
  console.error(
    'Generated contracts are stale. Run `npm run proto:generate` and commit the result:\n' + diff,
  );
  process.exit(1);
}
console.log('Generated contracts are up to date.');
