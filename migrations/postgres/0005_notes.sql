-- Free-text notes on a job, written by its owner through `PATCH /api/v1/jobs/{id}`.
alter table job add column notes text not null default '';
