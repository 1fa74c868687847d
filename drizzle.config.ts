import { defineConfig } from 'drizzle-kit';

// Migrations are generated offline and committed; db/client.ts applies them at startup, so
// drizzle-kit never needs a live database (no dbCredentials here).
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
  strict: true,
  verbose: true,
});
