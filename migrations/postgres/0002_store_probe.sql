-- One row that health checks write to, to learn whether the store can still commit (see
-- src/store/health.rs).
create table store_probe (
    probe_id   integer primary key check (probe_id = 1),
    probed_at  bigint not null
);
