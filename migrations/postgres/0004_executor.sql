-- Where a job may run, and why it ran where it did. `requested_executor` is the spec's
-- `executor` (`auto`, `cpu` or `cuda`; evaluations run anywhere): a worker claims only jobs
-- its executor may run. `placement` says, in words, why the job's last run was on its executor.
alter table job add column requested_executor text not null default 'auto';
alter table job add column placement text;
update job set requested_executor = coalesce(spec::json ->> 'executor', 'auto') where kind = 'evolve';
