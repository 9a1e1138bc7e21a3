-- Sweeps: one spec and its axes, expanded into one job per combination. A job of a sweep
-- records the sweep and the values its axes gave it (a JSON object); the runs a comparison
-- averages over are those whose values differ only in the seed.
create table sweep (
    sweep_id    text collate "C" primary key,
    name        text not null,
    spec        text not null,               -- JSON: the spec every combination starts from
    axes        text not null,               -- JSON: {path: [values]}
    created_at  bigint not null
);

alter table job add column sweep_id text collate "C" references sweep (sweep_id) on delete set null;
alter table job add column sweep_values text;

create index job_sweep on job (sweep_id, created_at);
