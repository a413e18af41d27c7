export * from './address-policy.js';
export * from './host-limiter.js';
export * from './robots-cache.js';
export * from './safe-fetcher.js';
