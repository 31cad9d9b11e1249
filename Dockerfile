# syntax=docker/dockerfile:1
# One image for every service; the command picks which one runs:
#   docker run IMAGE gateway/main.ts | comparator/main.ts | processor/main.ts
# The services run their TypeScript through tsx, as in development and in the tests: no build step whose
# output could differ from what was tested, and the assets the code reads beside itself (processor/*.lua,
# the ops console, the big screen, package.json) stay where import.meta.url expects them.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Install scripts run: postinstall applies patches/ (the kafkajs patch) with patch-package, a production
# dependency for that reason, and fails the build if a patch does not apply, so the image runs the kafkajs
# the tests ran. test/helm/chart.test.ts checks this step.
RUN npm ci --omit=dev --no-audit --no-fund \
 && if [ ! -d node_modules/tsx ]; then \
      echo "tsx must be listed in dependencies: the image runs the services through it" >&2; exit 1; \
    fi

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Everything stays owned by root, so the node user cannot change the code it runs; the services write only
# to mounted volumes (the chart mounts emptyDirs at /tmp for tsx's compile cache and /var/lib/oneservice).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY common ./common
COPY processor ./processor
COPY gateway ./gateway
COPY comparator ./comparator
USER node
EXPOSE 8080 8081 9090
# node itself is PID 1 (no tsx CLI wrapper), so SIGTERM reaches the services' own graceful shutdown.
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["gateway/main.ts"]
