-- What each job's generations cost: every generation's CPU seconds (all threads), and the job's
-- running totals of CPU seconds, wall seconds and environment steps, kept in step with its
-- records (a truncation to the checkpoint takes its generations back out, so a crash never
-- counts a generation twice), plus the machine its last run was on.
alter table generation add column cpu_s double precision not null default 0;
alter table job add column cpu_seconds double precision not null default 0;
alter table job add column wall_seconds double precision not null default 0;
alter table job add column env_steps bigint not null default 0;
alter table job add column machine text;

update job set
    wall_seconds = coalesce((select sum(g.ask_s + g.evaluate_s + g.tell_s) from generation g
                             where g.job_id = job.job_id), 0),
    env_steps = coalesce((select sum(g.env_steps) from generation g
                          where g.job_id = job.job_id), 0);
