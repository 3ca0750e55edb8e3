-- The events table is appended to in time order: block-range (BRIN)
-- indexes on its day and time find a day or a period as well for a BI
-- query, at a fraction of a B-tree's cost on every insert (the two B-trees
-- took about 40% of an event's insert: BENCHMARKS.md, the archive).
DROP INDEX hallcall.events_by_day;
DROP INDEX hallcall.events_by_kind;
CREATE INDEX events_day_brin ON hallcall.events USING brin (day);
CREATE INDEX events_at_brin ON hallcall.events USING brin (at);
