# One image for every LLM Twin service. The service it runs is chosen by LLMTWIN_SERVICE
# (build-arg SERVICE sets the default; a Deployment's env overrides it):
#   docker build -t llmtwin .                          # defaults to the gateway
#   docker build --build-arg SERVICE=ingest -t llmtwin-ingest .
#   docker run -e LLMTWIN_SERVICE=embed llmtwin
# TypeScript runs through tsx at runtime, as everywhere else in the repository: there is no compile step.

ARG NODE_VERSION=20.20

# --- manifests: only the package manifests, so that `npm ci` below reruns only when they change ---------
FROM node:${NODE_VERSION}-bookworm AS manifests
WORKDIR /src
COPY . .
RUN mkdir /out \
 && cp package.json package-lock.json /out/ \
 && if [ -f .npmrc ]; then cp .npmrc /out/; fi \
 && find packages services gateway cli -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /out/ \;

# --- build: dependencies (native ones such as better-sqlite3 compile here), then the sources ------------
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY --from=manifests /out/ ./
# Not --omit=dev: package-lock.json marks tsx, the runtime loader, as a dev dependency. Once the lock
# file lists it as a production one, `npm ci --omit=dev` drops the test and lint toolchain from the image.
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
# The web console the gateway serves at / (static files; every image has them, a few hundred KB).
RUN node gateway/console/build.mjs
ARG SERVICE=gateway
# Fail the build, not the pod, when SERVICE names nothing.
RUN case "$SERVICE" in \
      gateway) test -f gateway/src/main.ts ;; \
      *) test -f "services/$SERVICE/src/main.ts" ;; \
    esac || { echo "SERVICE=$SERVICE: no such service (services/<name> or gateway)" >&2; exit 1; }

# --- runtime ---------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# The services listen on loopback unless told otherwise; in a container they must not.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# Owned by root and not writable by the service user: the container can run with a read-only root
# filesystem; tsx keeps its transpile cache under $TMPDIR (an emptyDir in Kubernetes).
COPY --from=build /app /app
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -eu' \
      'service="${LLMTWIN_SERVICE:-}"' \
      'case "$service" in' \
      '  ""|*[!a-z0-9-]*) echo "LLMTWIN_SERVICE must name a service, got \"$service\"" >&2; exit 64 ;;' \
      '  gateway) main=/app/gateway/src/main.ts ;;' \
      '  *) main="/app/services/$service/src/main.ts" ;;' \
      'esac' \
      'if [ ! -f "$main" ]; then echo "unknown service \"$service\" (no $main)" >&2; exit 64; fi' \
      'exec node --import tsx "$main" "$@"' \
      > /usr/local/bin/llmtwin-service \
 && chmod 0755 /usr/local/bin/llmtwin-service
# The numeric id of the image's `node` user, so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
# Last, so that images built for different services share every layer above.
ARG SERVICE=gateway
ENV LLMTWIN_SERVICE=${SERVICE}
ENTRYPOINT ["/usr/local/bin/llmtwin-service"]
