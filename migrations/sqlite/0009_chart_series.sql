-- Per-environment and σ curves for charts, and the steps each generation simulated (measured
-- throughput: env_steps / evaluate_s). The full record keeps them too, as JSON; these compact
-- columns let a chart bucket them in SQL instead of parsing every record.
alter table generation add column sigma real;
alter table generation add column env_steps integer;

update generation set
    sigma = (select json_extract(r.record, '$.sigma') from generation_record r
             where r.job_id = generation.job_id and r.generation = generation.generation),
    env_steps = (select json_extract(r.record, '$.env_steps') from generation_record r
                 where r.job_id = generation.job_id and r.generation = generation.generation);

-- One row per generation and environment (`env_index` in the spec's `envs` order), clustered
-- so one environment's history is one range.
create table generation_env (
    job_id       text not null references job (job_id) on delete cascade,
    env_index    integer not null,
    generation   integer not null,
    mean_return  real,
    best_return  real,
    mean_score   real,
    primary key (job_id, env_index, generation)
) without rowid;

insert into generation_env (job_id, env_index, generation, mean_return, best_return, mean_score)
select r.job_id, e.key, r.generation,
       json_extract(e.value, '$.mean_return'),
       json_extract(e.value, '$.best_return'),
       json_extract(e.value, '$.mean_score')
from generation_record r, json_each(r.record, '$.envs') e;
