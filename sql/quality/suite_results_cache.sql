-- Expectation-suite results per raw table, college and year, so a nightly run re-validates only
-- what changed (pipelines/quality/cache.py, `suite_issues`). `fingerprint` is a SHA-256 of everything the
-- results depend on: the suite JSON, reference/quality_rules.csv (but the chunk size), the
-- catalogued columns, every module of pipelines/quality and every suite in expectations/, the
-- versions of GX, pandas, pyarrow and DuckDB, and what the college-year's rows were loaded from
-- (their count and the files the ingest log holds for them, sql/quality/suite_inputs.sql).
-- `issues` is the JSON list of that college-year's issue rows ('[]' when it passed). An entry whose
-- fingerprint differs is stale and re-validated; the table can be dropped at any time (cold run).
create table if not exists quality.suite_results_cache (
    table_name varchar,
    school_code varchar,
    year integer,
    fingerprint varchar,
    issues varchar
)
