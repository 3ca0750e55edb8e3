-- Pages kept as text. The archive alone writes them, from JSON it made
-- itself; as `json`, PostgreSQL parsed every page on insert to check it,
-- the largest single cost of the archive in PostgreSQL (BENCHMARKS.md).
-- Read a page as JSON with a cast: `events::json`. The view `events` is
-- made again over the text (grants on it must be given again).
DROP VIEW hallcall.events;
ALTER TABLE hallcall.event_pages ALTER COLUMN events TYPE text;

DO $$
BEGIN
    ALTER TABLE hallcall.event_pages ALTER COLUMN events SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 is not available here: event pages are compressed with pglz';
END
$$;

CREATE VIEW hallcall.events AS
SELECT p.hall,
       (e.value ->> 'seq')::bigint                             AS seq,
       (e.value ->> 'at_ms')::bigint                           AS at_ms,
       to_timestamp((e.value ->> 'at_ms')::bigint / 1000.0)    AS at,
       p.day,
       e.value ->> 'kind'                                      AS kind,
       (e.value -> 'body')::jsonb                              AS body
FROM hallcall.event_pages p
CROSS JOIN LATERAL json_array_elements(p.events::json) AS e(value);
