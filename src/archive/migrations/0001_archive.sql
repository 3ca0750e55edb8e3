-- hallcall archive, version 1. Times are timestamptz; *_ms columns keep the
-- event's exact milliseconds since the Unix epoch.

CREATE SCHEMA IF NOT EXISTS hallcall;

-- Every durable event of every hall, once per (hall, seq).
CREATE TABLE hallcall.events (
    hall   text        NOT NULL,
    seq    bigint      NOT NULL,
    at_ms  bigint      NOT NULL,
    at     timestamptz NOT NULL,
    -- The business day it belongs to; NULL before the first day archived.
    day    date,
    kind   text        NOT NULL,
    -- The event's content as the store keeps it (its "type" is `kind`).
    body   jsonb       NOT NULL,
    PRIMARY KEY (hall, seq)
);
CREATE INDEX events_by_day ON hallcall.events (hall, day);
CREATE INDEX events_by_kind ON hallcall.events (hall, kind, at);

-- How far each hall is archived, written in the transaction that archives.
CREATE TABLE hallcall.cursors (
    hall        text        PRIMARY KEY,
    seq         bigint      NOT NULL,
    -- The business day being archived and its DayStarted event.
    day         date,
    day_seq     bigint,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Events the archive never received: the store no longer held them when
-- the archive came back.
CREATE TABLE hallcall.gaps (
    hall        text        NOT NULL,
    after_seq   bigint      NOT NULL,
    resumed_seq bigint      NOT NULL,
    noted_at    timestamptz NOT NULL DEFAULT now()
);

-- Events archived from a log the store later replaced (it went back, e.g.
-- a Redis failover that lost writes): moved here, never deleted.
CREATE TABLE hallcall.superseded_events (
    LIKE hallcall.events,
    superseded_at timestamptz NOT NULL DEFAULT now()
);

-- One row per visit (ticket number per business day).
CREATE TABLE hallcall.tickets (
    hall            text        NOT NULL,
    day             date        NOT NULL,
    number          text        NOT NULL,
    zone            text        NOT NULL,
    service         text        NOT NULL,
    lane            text        NOT NULL,  -- normal, priority, appointment
    category        text,                  -- the priority lane's category
    channel         text        NOT NULL,  -- guide_desk, kiosk, mobile, appointment_check_in
    issued_at       timestamptz NOT NULL,
    first_called_at timestamptz,
    calls           integer     NOT NULL DEFAULT 0,
    recalls         integer     NOT NULL DEFAULT 0,
    skips           integer     NOT NULL DEFAULT 0,
    transfers       integer     NOT NULL DEFAULT 0,
    started_at      timestamptz,
    finished_at     timestamptz,
    window_no       integer,
    staff           text,
    -- waiting, called, serving, held (while the day runs); finished,
    -- no_show, cancelled; left_waiting, unfinished (the day ended first).
    outcome         text        NOT NULL,
    PRIMARY KEY (hall, day, number)
);
CREATE INDEX tickets_by_staff ON hallcall.tickets (hall, staff, day);

-- 好差评 and their follow-ups.
CREATE TABLE hallcall.ratings (
    hall      text        NOT NULL,
    day       date        NOT NULL,
    number    text        NOT NULL,
    window_no integer     NOT NULL,
    staff     text,
    level     text        NOT NULL,  -- very_satisfied … very_dissatisfied
    bad       boolean     NOT NULL,
    comment   text,
    rated_at  timestamptz NOT NULL,
    PRIMARY KEY (hall, day, number)
);
CREATE TABLE hallcall.follow_ups (
    hall        text        NOT NULL,
    seq         bigint      NOT NULL,
    day         date        NOT NULL,
    number      text        NOT NULL,
    step        text        NOT NULL,  -- verified, rectified, called_back
    note        text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (hall, seq)
);

-- Windows open (a session) and paused, with who staffed them.
CREATE TABLE hallcall.window_sessions (
    hall      text        NOT NULL,
    day       date        NOT NULL,
    window_no integer     NOT NULL,
    staff     text,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    PRIMARY KEY (hall, window_no, opened_at)
);
CREATE TABLE hallcall.window_pauses (
    hall       text        NOT NULL,
    day        date        NOT NULL,
    window_no  integer     NOT NULL,
    staff      text,
    reason     text        NOT NULL,  -- signed_in, lunch, break, meeting, training, fault, other
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    PRIMARY KEY (hall, window_no, started_at)
);

-- The report facts of each finished business day (src/report/part.rs):
-- what the report routes read for days older than the store keeps.
CREATE TABLE hallcall.report_days (
    hall  text  NOT NULL,
    day   date  NOT NULL,
    part  jsonb NOT NULL,
    PRIMARY KEY (hall, day)
);

-- Figures per period, for a BI tool or a spreadsheet. `grouped_by` says
-- which of zone, service, window_no and staff the row is for ('hall' for
-- the whole hall). Waits: issued → first call; services: start → finish.
CREATE VIEW hallcall.ticket_figures AS
SELECT t.*,
       (EXTRACT(EPOCH FROM (first_called_at - issued_at)) * 1000)::bigint AS wait_ms,
       (EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000)::bigint  AS service_ms
FROM hallcall.tickets t;

CREATE VIEW hallcall.figures_by_day AS
SELECT hall, day AS day,
       CASE WHEN GROUPING(service) = 0 THEN 'service'
            WHEN GROUPING(zone) = 0 THEN 'zone'
            WHEN GROUPING(window_no) = 0 THEN 'window'
            WHEN GROUPING(staff) = 0 THEN 'staff'
            ELSE 'hall' END AS grouped_by,
       zone, service, window_no, staff,
       count(*)                                              AS issued,
       count(first_called_at)                                AS called,
       count(*) FILTER (WHERE outcome = 'finished')          AS served,
       count(*) FILTER (WHERE outcome = 'no_show')           AS no_shows,
       count(*) FILTER (WHERE outcome = 'cancelled')         AS cancelled,
       sum(transfers)                                        AS transfers,
       round(avg(wait_ms))::bigint                           AS wait_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_ms)  AS wait_p90_ms,
       round(avg(service_ms))::bigint                        AS service_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY service_ms) AS service_p90_ms
FROM hallcall.ticket_figures
GROUP BY GROUPING SETS ((hall, day), (hall, day, zone), (hall, day, zone, service),
                        (hall, day, window_no), (hall, day, staff));

CREATE VIEW hallcall.figures_by_month AS
SELECT hall, date_trunc('month', day)::date AS month,
       CASE WHEN GROUPING(service) = 0 THEN 'service'
            WHEN GROUPING(zone) = 0 THEN 'zone'
            WHEN GROUPING(window_no) = 0 THEN 'window'
            WHEN GROUPING(staff) = 0 THEN 'staff'
            ELSE 'hall' END AS grouped_by,
       zone, service, window_no, staff,
       count(*)                                              AS issued,
       count(first_called_at)                                AS called,
       count(*) FILTER (WHERE outcome = 'finished')          AS served,
       count(*) FILTER (WHERE outcome = 'no_show')           AS no_shows,
       count(*) FILTER (WHERE outcome = 'cancelled')         AS cancelled,
       sum(transfers)                                        AS transfers,
       round(avg(wait_ms))::bigint                           AS wait_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_ms)  AS wait_p90_ms,
       round(avg(service_ms))::bigint                        AS service_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY service_ms) AS service_p90_ms
FROM hallcall.ticket_figures
GROUP BY GROUPING SETS ((hall, date_trunc('month', day)::date), (hall, date_trunc('month', day)::date, zone), (hall, date_trunc('month', day)::date, zone, service),
                        (hall, date_trunc('month', day)::date, window_no), (hall, date_trunc('month', day)::date, staff));

CREATE VIEW hallcall.figures_by_year AS
SELECT hall, date_trunc('year', day)::date AS year,
       CASE WHEN GROUPING(service) = 0 THEN 'service'
            WHEN GROUPING(zone) = 0 THEN 'zone'
            WHEN GROUPING(window_no) = 0 THEN 'window'
            WHEN GROUPING(staff) = 0 THEN 'staff'
            ELSE 'hall' END AS grouped_by,
       zone, service, window_no, staff,
       count(*)                                              AS issued,
       count(first_called_at)                                AS called,
       count(*) FILTER (WHERE outcome = 'finished')          AS served,
       count(*) FILTER (WHERE outcome = 'no_show')           AS no_shows,
       count(*) FILTER (WHERE outcome = 'cancelled')         AS cancelled,
       sum(transfers)                                        AS transfers,
       round(avg(wait_ms))::bigint                           AS wait_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_ms)  AS wait_p90_ms,
       round(avg(service_ms))::bigint                        AS service_mean_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY service_ms) AS service_p90_ms
FROM hallcall.ticket_figures
GROUP BY GROUPING SETS ((hall, date_trunc('year', day)::date), (hall, date_trunc('year', day)::date, zone), (hall, date_trunc('year', day)::date, zone, service),
                        (hall, date_trunc('year', day)::date, window_no), (hall, date_trunc('year', day)::date, staff));

CREATE VIEW hallcall.ratings_by_month AS
SELECT hall, date_trunc('month', day)::date AS month, window_no, staff, level, count(*) AS ratings
FROM hallcall.ratings
GROUP BY hall, date_trunc('month', day)::date, ROLLUP (window_no, staff), level;
