/**
 * Messages between the jest global setup and `cli.ts serve`, the process that owns the test backends.
 * The backends live in their own process because jest loads globalSetup as CommonJS, outside its module
 * mapping, so the harness (ESM TypeScript) runs under tsx there; and because that process notices when
 * jest goes away (the IPC channel closes), even on SIGKILL, and then takes the servers down.
 */
export type ServeToParent =
  | { readonly type: 'ready'; readonly env: Readonly<Record<string, string>> }
  | { readonly type: 'failed'; readonly message: string };

export type ParentToServe = { readonly type: 'stop' };
