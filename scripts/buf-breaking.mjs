// Runs `buf breaking` against the contracts of the previous commit (or BUF_BREAKING_AGAINST), so a change
// that breaks wire or JSON compatibility of a released package fails CI.
import { execFileSync, spawnSync } from 'node:child_process';

const buf = 'node_modules/.bin/buf';
let against = process.env.BUF_BREAKING_AGAINST;
if (!against) {
  const parent = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD~1'], { encoding: 'utf8' });
  if (parent.status !== 0) {
    console.log('buf breaking: no previous commit to compare with; nothing to check.');
    process.exit(0);
  }
  const hasProto = spawnSync('git', ['cat-file', '-e', 'HEAD~1:proto'], { encoding: 'utf8' });
  if (hasProto.status !== 0) {
    console.log('buf breaking: the previous commit has no proto/ folder; nothing to check.');
    process.exit(0);
  }
  against = `.git#ref=HEAD~1,subdir=proto`;
}
console.log(`buf breaking against ${against}`);
execFileSync(buf, ['breaking', 'proto', '--against', against], { stdio: 'inherit' });
console.log('buf breaking: no breaking changes.');
