# knarr API or worker for the scaled-out topology (docker-compose.yml). Not built in CI: this
# machine has no Docker engine.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY core ./core
COPY connectors ./connectors
COPY engine ./engine
COPY db ./db
COPY activities ./activities
COPY workflows ./workflows
COPY api ./api
COPY runtime ./runtime
COPY cli ./cli
COPY tsconfig.json ./
# The bundle npm start would build on first run (cli/start.mjs), made now: /app is not writable by `node`.
RUN node cli/start.mjs help > /dev/null
RUN mkdir -p /var/lib/knarr /transfers && chown node /var/lib/knarr
USER node
ENTRYPOINT ["node", "cli/start.mjs"]
CMD ["api"]
