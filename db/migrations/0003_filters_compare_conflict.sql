ALTER TABLE "items" ADD COLUMN "check_first" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "dst_path" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "filters" jsonb DEFAULT '{}'::jsonb NOT NULL;