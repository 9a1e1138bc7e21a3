-- Runs of a job that ended in a crash: a panic in its worker, or a worker that died and let its
-- lease expire. At a small limit the job fails instead of taking down worker after worker.
alter table job add column crashes integer not null default 0;
