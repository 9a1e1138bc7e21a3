-- One row that health checks write to, to learn whether the store can still commit (see
-- src/store/health.rs): `filler` briefly holds a blob of the probe's size, then is emptied.
create table store_probe (
    probe_id   integer primary key check (probe_id = 1),
    filler     blob not null,
    probed_at  integer not null
);
