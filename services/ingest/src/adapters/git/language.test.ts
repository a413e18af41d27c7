import { describe, expect, it } from '@jest/globals';
import { detectLanguage } from './language.js';

describe('detectLanguage', () => {
  it.each([
    ['src/index.ts', 'typescript'],
    ['web/App.tsx', 'typescript'],
    ['lib/a.mjs', 'javascript'],
    ['tools/x.py', 'python'],
    ['cmd/main.go', 'go'],
    ['src/lib.rs', 'rust'],
    ['A.java', 'java'],
    ['build.gradle.kts', 'kotlin'],
    ['x.c', 'c'],
    ['x.hpp', 'cpp'],
    ['P.cs', 'csharp'],
    ['a.rb', 'ruby'],
    ['i.php', 'php'],
    ['V.swift', 'swift'],
    ['M.scala', 'scala'],
    ['run.sh', 'shell'],
    ['q.sql', 'sql'],
    ['index.html', 'html'],
    ['s.css', 'css'],
    ['README.md', 'markdown'],
    ['ci.yml', 'yaml'],
    ['package.json', 'json'],
    ['pyproject.toml', 'toml'],
    ['Dockerfile', 'dockerfile'],
    ['docker/Dockerfile.dev', 'dockerfile'],
    ['Makefile', 'makefile'],
    ['LICENSE', 'text'],
    ['notes.unknownext', 'text'],
  ])('%s is %s', (path, language) => {
    expect(detectLanguage(path)).toBe(language);
  });

  it.each([
    ['#!/usr/bin/env python3\nprint(1)\n', 'python'],
    ['#!/bin/bash\necho\n', 'shell'],
    ['#!/usr/bin/env -S deno run --allow-net\n', 'typescript'],
    ['#!/usr/bin/node\n', 'javascript'],
    ['no shebang here\n', 'text'],
  ])('reads the shebang of an extensionless script: %j', (head, language) => {
    expect(detectLanguage('bin/tool', Buffer.from(head))).toBe(language);
  });

  it('prefers the extension over the shebang', () => {
    expect(detectLanguage('x.py', Buffer.from('#!/bin/sh\n'))).toBe('python');
  });
});
