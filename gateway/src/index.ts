export {
  createGatewayModule,
  gatewayServices,
  publicServices,
  type GatewayDeps,
  type GatewayModule,
  type GatewaySecuritySettings,
  type HttpRoutes,
  type HttpRoutesContext,
} from './module.js';
export {
  configSchema as gatewayConfigSchema,
  securityConfigSchema,
  loadGatewayConfig,
  loadSecurityConfig,
  securitySettings,
} from './config.js';
export { upstreamStatus } from './rpc/status.routes.js';
export type { GatewaySecurity, Principal } from './auth/principal.js';
export { principalKey, keyFromHeaders } from './auth/api-key-security.js';
export { scopedAuthor, AUTHOR_HEADER } from './auth/auth.interceptor.js';
export { accessPolicy, openServices } from './auth/access-policy.js';
export { readJsonBody, headersFromNode, httpErrorOf, HttpError } from './auth/http-body.js';
export { KEY_PATTERN } from './auth/api-keys.js';
export { openaiRoutes, openaiHttpRoutes, type OpenAiRoutesOptions } from './http/openai.routes.js';
