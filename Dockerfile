# syntax=docker/dockerfile:1

# SMX: one image for every role. `docker run smx` runs `smx start` (API, broker, workers in one
# process); `docker run smx api|worker|broker|migrate` runs one role (see compose.yaml).
ARG NODE_VERSION=20

# Build: all dependencies (tsc is a dev dependency), compile, then drop the dev dependencies so
# the runtime stage copies production node_modules only.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: non-root, no compiler, no sources. The code is owned by root and read-only to the
# process; only the data dir (generated secrets, the embedded database) is writable.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    SMX_DATA_DIR=/var/lib/smx \
    SMX_HOST=0.0.0.0
WORKDIR /app
RUN mkdir -p /var/lib/smx && chown node:node /var/lib/smx
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
USER node
VOLUME ["/var/lib/smx"]
# HTTP API, MQTT over TCP, MQTT over WebSocket; 9464 is the SMX_METRICS_PORT compose.yaml gives
# the worker and broker roles (they serve no HTTP API).
EXPOSE 8080 1883 8083 9464
# /health/ready: Redis, PostgreSQL and the broker reachable (on SMX_METRICS_PORT when set).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/docker/healthcheck.mjs"]
# Node is PID 1 and SMX handles SIGTERM itself (graceful drain), so no init wrapper is needed.
ENTRYPOINT ["node", "dist/bin/smx.js"]
CMD ["start"]
