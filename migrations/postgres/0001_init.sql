-- SFNN Lab store, PostgreSQL dialect. Applied at start-up; never edit once released.
-- The same tables, columns and indexes as migrations/sqlite/0001_init.sql, so both backends
-- behave alike. Times are Unix milliseconds (bigint) from the database's clock (sfnn_now_ms).
-- JSON is kept as text, exactly as written, so both backends hand back the same documents.
-- Ids compare bytewise (collate "C"), as in SQLite, so ties in queue and list order break alike.

-- One clock for every machine: leases are stamped and expired by the database, so clock skew
-- between workers can neither expire a lease early nor keep a dead one alive. now() is the
-- transaction's start, so every stamp of one transaction agrees.
create function sfnn_now_ms() returns bigint language sql stable
    as $$ select floor(extract(epoch from now()) * 1000)::bigint $$;

create table job (
    job_id            text collate "C" primary key,
    kind              text not null check (kind in ('evolve', 'evaluate')),
    name              text not null,
    tags              text not null,               -- JSON array of strings
    spec              text not null,               -- JSON job spec
    status            text not null check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority          integer not null default 0,
    generation        bigint not null default 0,   -- generations completed
    generations       bigint not null,             -- generations asked for
    best_fitness      double precision,
    cancel_requested  boolean not null default false,
    worker_id         text,
    lease_token       text,
    lease_expires_at  bigint,
    attempts          integer not null default 0,
    error             text,
    stop_reason       text,
    executor          text,
    device            text,
    created_at        bigint not null,
    updated_at        bigint not null,
    started_at        bigint,
    finished_at       bigint
);

create index job_queue on job (status, priority desc, created_at);
create index job_created on job (created_at desc, job_id desc);

-- The numbers of every generation, compact, so charts scan few pages.
create table generation (
    job_id       text collate "C" not null references job (job_id) on delete cascade,
    generation   bigint not null,
    best         double precision,
    mean         double precision,
    worst        double precision,
    best_so_far  double precision,
    improved     boolean not null,                 -- where best_so_far rose
    ask_s        double precision not null,
    evaluate_s   double precision not null,
    tell_s       double precision not null,
    created_at   bigint not null,
    primary key (job_id, generation)
);

-- The full record of every generation (JSON), written in the same transaction.
create table generation_record (
    job_id      text collate "C" not null references job (job_id) on delete cascade,
    generation  bigint not null,
    record      text not null
);

create unique index generation_record_key on generation_record (job_id, generation);

create table checkpoint (
    job_id      text collate "C" primary key references job (job_id) on delete cascade,
    generation  bigint not null,
    state       bytea not null,                    -- JSON checkpoint
    created_at  bigint not null,
    updated_at  bigint not null
);

create table genome (
    genome_id   text collate "C" primary key,
    job_id      text collate "C" references job (job_id) on delete cascade,
    generation  bigint,
    kind        text not null check (kind in ('generation_best', 'strategy_mean', 'final_best', 'final_mean', 'uploaded')),
    fitness     double precision,
    model       text not null,                     -- JSON model config
    params      bytea not null,                    -- little-endian f32
    sha256      text not null,
    name        text,
    created_at  bigint not null,
    updated_at  bigint not null
);

create index genome_job on genome (job_id, generation);

create table evaluation (
    job_id      text collate "C" primary key references job (job_id) on delete cascade,
    genome_id   text collate "C" not null references genome (genome_id) on delete cascade,
    result      text not null,                     -- JSON per-environment, per-lifetime episode returns
    created_at  bigint not null,
    updated_at  bigint not null
);
