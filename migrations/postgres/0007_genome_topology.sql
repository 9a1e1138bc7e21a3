-- The wiring a genome was made with, where the file it came in said (an upload, an import):
-- JSON `Topology`. NULL: its job's spec says (a job's genome), or nothing does. An evaluation
-- of the genome wires its networks this way unless the request chooses otherwise.
alter table genome add column topology text;
