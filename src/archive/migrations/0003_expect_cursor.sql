-- A writer sends a whole transaction at once (BENCHMARKS.md, the archive):
-- the check that the hall's cursor is where the writer left it runs in
-- PostgreSQL, and a cursor found elsewhere fails the transaction there,
-- so nothing after it in the transaction is applied.
CREATE FUNCTION hallcall.expect_cursor(h text, expected bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    found bigint;
BEGIN
    SELECT seq INTO found FROM hallcall.cursors WHERE hall = h FOR UPDATE;
    IF coalesce(found, 0) <> expected THEN
        RAISE EXCEPTION 'hall %: the archive''s cursor is at %, this process expected %',
            h, coalesce(found, 0), expected
            USING ERRCODE = 'HC001', DETAIL = coalesce(found, 0)::text;
    END IF;
END
$$;
