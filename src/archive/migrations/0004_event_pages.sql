-- Raw events kept a page at a time: one row per run of a hall's
-- consecutive events of one business day, the events a JSON array in
-- order. A row per event was more than half of the archive's cost in
-- PostgreSQL (BENCHMARKS.md, the archive). `hallcall.events` becomes a
-- view with the columns the table had.
CREATE TABLE hallcall.event_pages (
    hall      text        NOT NULL,
    first_seq bigint      NOT NULL,
    last_seq  bigint      NOT NULL,
    -- The business day of every event in the page; NULL before the first
    -- day archived.
    day       date,
    first_at  timestamptz NOT NULL,
    last_at   timestamptz NOT NULL,
    -- [{"seq": …, "at_ms": …, "kind": "…", "body": {…}}, …]
    events    json        NOT NULL,
    PRIMARY KEY (hall, first_seq),
    CHECK (last_seq >= first_seq)
);
CREATE INDEX event_pages_by_day ON hallcall.event_pages (hall, day);

-- lz4 where the server has it: several times faster than the default
-- (pglz) on pages and on a day's report facts.
DO $$
BEGIN
    ALTER TABLE hallcall.event_pages ALTER COLUMN events SET COMPRESSION lz4;
    ALTER TABLE hallcall.report_days ALTER COLUMN part SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 is not available here: event pages and report facts are compressed with pglz';
END
$$;

INSERT INTO hallcall.event_pages (hall, first_seq, last_seq, day, first_at, last_at, events)
SELECT hall, min(seq), max(seq), day, min(at), max(at),
       json_agg(json_build_object('seq', seq, 'at_ms', at_ms, 'kind', kind, 'body', body) ORDER BY seq)
FROM hallcall.events
GROUP BY hall, day;

DROP TABLE hallcall.events;

CREATE VIEW hallcall.events AS
SELECT p.hall,
       (e.value ->> 'seq')::bigint                             AS seq,
       (e.value ->> 'at_ms')::bigint                           AS at_ms,
       to_timestamp((e.value ->> 'at_ms')::bigint / 1000.0)    AS at,
       p.day,
       e.value ->> 'kind'                                      AS kind,
       (e.value -> 'body')::jsonb                              AS body
FROM hallcall.event_pages p
CROSS JOIN LATERAL json_array_elements(p.events) AS e(value);
