-- SFNN Lab store, SQLite dialect. Applied at start-up; never edit once released.
-- Times are Unix milliseconds. Ids are UUID strings.

create table job (
    job_id            text primary key,
    kind              text not null check (kind in ('evolve', 'evaluate')),
    name              text not null,
    tags              text not null,               -- JSON array of strings
    spec              text not null,               -- JSON job spec
    status            text not null check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority          integer not null default 0,
    generation        integer not null default 0,  -- generations completed
    generations       integer not null,            -- generations asked for
    best_fitness      real,
    cancel_requested  integer not null default 0,
    worker_id         text,
    lease_token       text,
    lease_expires_at  integer,
    attempts          integer not null default 0,
    error             text,
    stop_reason       text,
    executor          text,
    device            text,
    created_at        integer not null,
    updated_at        integer not null,
    started_at        integer,
    finished_at       integer
);

create index job_queue on job (status, priority desc, created_at);
create index job_created on job (created_at desc, job_id desc);

-- The numbers of every generation, compact and clustered by job, so charts scan few pages.
create table generation (
    job_id       text not null references job (job_id) on delete cascade,
    generation   integer not null,
    best         real,
    mean         real,
    worst        real,
    best_so_far  real,
    improved     integer not null,                 -- 1 where best_so_far rose
    ask_s        real not null,
    evaluate_s   real not null,
    tell_s       real not null,
    created_at   integer not null,
    primary key (job_id, generation)
) without rowid;

-- The full record of every generation (JSON), written in the same transaction.
create table generation_record (
    job_id      text not null references job (job_id) on delete cascade,
    generation  integer not null,
    record      text not null
);

create unique index generation_record_key on generation_record (job_id, generation);

create table checkpoint (
    job_id      text primary key references job (job_id) on delete cascade,
    generation  integer not null,
    state       blob not null,                     -- JSON checkpoint
    created_at  integer not null,
    updated_at  integer not null
);

create table genome (
    genome_id   text primary key,
    job_id      text references job (job_id) on delete cascade,
    generation  integer,
    kind        text not null check (kind in ('generation_best', 'strategy_mean', 'final_best', 'final_mean', 'uploaded')),
    fitness     real,
    model       text not null,                     -- JSON model config
    params      blob not null,                     -- little-endian f32
    sha256      text not null,
    name        text,
    created_at  integer not null,
    updated_at  integer not null
);

create index genome_job on genome (job_id, generation);

create table evaluation (
    job_id      text primary key references job (job_id) on delete cascade,
    genome_id   text not null references genome (genome_id) on delete cascade,
    result      text not null,                     -- JSON per-environment, per-lifetime episode returns
    created_at  integer not null,
    updated_at  integer not null
);
