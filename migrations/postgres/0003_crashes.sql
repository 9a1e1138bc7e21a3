-- Crashes of a job: runs that ended in a panic in its worker, or in a worker that died and let
-- its lease expire. `crashes` counts those in a row that made no progress past the generation
-- reached at the previous one (`crash_generation`): a job that keeps aborting its worker at the
-- same place fails at a small limit, while a server killed now and then mid-job does not.
alter table job add column crashes integer not null default 0;
alter table job add column crash_generation integer;
