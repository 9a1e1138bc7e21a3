-- Per-environment and σ curves for charts, and the steps each generation simulated (measured
-- throughput: env_steps / evaluate_s). The full record keeps them too, as JSON; these compact
-- columns let a chart bucket them in SQL instead of parsing every record.
alter table generation add column sigma double precision;
alter table generation add column env_steps bigint;

update generation g set
    sigma = (r.record::jsonb ->> 'sigma')::double precision,
    env_steps = (r.record::jsonb ->> 'env_steps')::bigint
from generation_record r
where r.job_id = g.job_id and r.generation = g.generation;

-- One row per generation and environment (`env_index` in the spec's `envs` order), clustered
-- so one environment's history is one range.
create table generation_env (
    job_id       text collate "C" not null references job (job_id) on delete cascade,
    env_index    integer not null,
    generation   bigint not null,
    mean_return  double precision,
    best_return  double precision,
    mean_score   double precision,
    primary key (job_id, env_index, generation)
);

insert into generation_env (job_id, env_index, generation, mean_return, best_return, mean_score)
select r.job_id, (e.ordinality - 1)::integer, r.generation,
       (e.value ->> 'mean_return')::double precision,
       (e.value ->> 'best_return')::double precision,
       (e.value ->> 'mean_score')::double precision
from generation_record r,
     jsonb_array_elements(r.record::jsonb -> 'envs') with ordinality as e(value, ordinality);
