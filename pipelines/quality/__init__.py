"""The data-quality engine: the expectation suites (expectations/*.json, run with Great Expectations
on pandas frames) and the SQL checks (sql/quality/check_*.sql), and the Dagster asset checks that
show their verdicts.

Design: the validations run **once**, inside the `quality.issues` asset (`issues.collect_issues`),
which writes every problem, attributed to its college, year, table, file and rows, to
`quality.issues`. The asset checks (`asset_checks.build_asset_checks`) only read it back.

Modules, in the order data flow through them:

- `rules`: reference/quality_rules.csv (tolerances, limits);
- `calendar`: which collection year is judged as of a date, and its deadline (`quality_params`);
- `suites`: generates expectations/*.json from the catalog and the hand refinements
  (`python -m pipelines.quality.suites`);
- `inputs`: the temp tables the checks read, and raw tables as pandas frames;
- `messages`: the issue row, the severities, and how a failed expectation is worded;
- `cache`: the suite results cache and its fingerprint (this whole package, the suites, the rules,
  the files the rows were loaded from);
- `screen`: the suites as DuckDB predicates, to find what GX needs to look at;
- `gx_import`: imports Great Expectations without what a pandas frame's validation never uses (`import_gx`);
- `gx_runner`: validates frames with Great Expectations, through the cache and the screen (`suite_issues`);
- `sql_checks`: runs sql/quality/check_*.sql (`sql_issues`);
- `issues`: both, written to `quality.issues`;
- `asset_checks`: the Dagster asset-check factory.

Nothing is imported here, so importing one module never loads Great Expectations or Dagster.
"""
