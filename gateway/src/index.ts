export { createGatewayModule, type GatewayDeps } from './module.js';
export { upstreamStatus } from './rpc/status.routes.js';
