-- Runs imported from `sfnn run` folders (`sfnn push`, `POST /api/v1/imports`). While its
-- upload is under way an imported job is `running`, held by the import itself: worker
-- `sfnn push`, a lease token no worker has and no expiry, so no worker claims it and no
-- lease check requeues it. `imported` keeps it apart for good: it has no checkpoint here, so
-- it is never resumed (clone it to run it again).
alter table job add column imported integer not null default 0;
