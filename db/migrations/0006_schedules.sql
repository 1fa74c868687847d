CREATE TABLE "schedules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"job_id" uuid NOT NULL,
	"cron" text,
	"every" text,
	"timezone" text NOT NULL,
	"overlap" text NOT NULL,
	"temporal_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_owner_name_key" ON "schedules" USING btree ("owner_id","name");--> statement-breakpoint
CREATE INDEX "schedules_job_idx" ON "schedules" USING btree ("job_id");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_workflow_id_key" ON "runs" USING btree ("workflow_id");