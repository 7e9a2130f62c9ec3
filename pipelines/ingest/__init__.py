"""Ingest of status-data exports from `$ZHENGAI_HOME/inbox` into `raw.<table>` and `raw.ingest_log`.

Layout: `inbox/<school_code>/<year>/<files>` or `inbox/<school_code>_<year>.zip` (files directly in
the zip or in one folder); `<year>` is the collection year. A file's table comes from its name
(`表6.1 校内专任教师.xlsx`, `6-1 校内专任教师.csv`) or, for a workbook whose sheets are named by
table, from each sheet's name. Headers are found below any title rows, two-level merged headers
are flattened to `上级/下级`, and columns are mapped by normalised header text through the catalog
(`reference/platform_columns.csv`), never by position.

Choices a data officer should know:

- Inbox files are **left in place**: the inbox sensor fingerprints the inbox, and a college's
  delivery stays where it put it. A file whose bytes (sha256) are already the current data of its
  college, year and table is `unchanged` and is not parsed again. A file listed with the size,
  mtime, ctime and inode a committed run hashed it with (`raw.ingest_files`) is not even read: its
  sha256 is trusted (`blobs`, `stamps`; ZHENGAI_INGEST_REHASH=1 hashes all). It is read only when a
  step needs its bytes, and must then still hash the same. `raw.college_year_inputs` holds per
  college-year fingerprints of the inputs for the later steps.
- Every original file is copied to `archive/<sha256[:2]>/<sha256><ext>` (zip deliveries: the zip
  and each member). A file that cannot be used is copied to `quarantine/<school>/<year>/` with a
  `<name>.reason.txt` in Chinese and English, and logged `quarantined`; data loaded earlier for
  that college, year and table stays as it was. With ZHENGAI_ARCHIVE_HARDLINK=1 a plain inbox
  file is hard-linked into the archive instead of copied (much cheaper: creating ~4,400 files costs
  seconds on some disks); only safe where deliveries are never rewritten in place (a new export is
  a new file or replaces the old by rename), since a link shares the bytes of the inbox file.
- A new export of a table replaces that college-year-table's rows; other colleges' rows are never
  touched. A run is one transaction: if it fails part-way, the warehouse is as it was before it.
  Two files in one delivery for the same table: the newer export
  (core-properties `created`, else file time) is used, the other is quarantined as superseded.
- Values that cannot be read as their column's type become null (the quality layer flags them);
  their number is kept in `raw.ingest_log.coercion_failures`.
- Headers match loosely (`loose_header`): full-/half-width, spaces and line breaks, bracketed units
  and notes, 最高/最后 wording (reference/header_words.csv); synonyms are the catalog's headers plus
  the aliases a data officer accepted (reference/header_aliases.csv, `zhengai catalog map`). A unit
  in a header or a `单位：…` title row other than the catalog's (亩 vs 平方米, 元 vs 万元;
  reference/unit_conversions.csv) is converted and logged in `raw.ingest_log.conversions`.
- Partial loading: a file loads when its table is identified and its rows can be placed (one row
  per college, or at least one key column found). A catalog column the file lacks is NULL and
  listed in `raw.ingest_log.missing_columns` (the quality layer judges what it costs). Unknown
  columns are kept per row in `raw.<table>.extra` (header → text) and listed with sample values and
  a likely column in `raw.ingest_log.extra_columns` / `unmapped_headers`. A file whose table's
  headers or aliases changed since it was loaded (`mapping_fingerprint`) is read again.
- A newer platform's sub-tables of one V2 table (online 6.1 教职工基本信息, 6.2 个人其他信息, 6.3
  授课情况 → V2 6.1, reference/platform_crosswalk.csv) are read each with its own shape's headers,
  joined on the V2 table's key (教工号) per college-year in the worker, before typing, per-course
  rows summed per teacher (`join_subtables`); each file is logged under the V2 code with a
  `子表合并` note. A sub-table not delivered or not readable leaves its columns NULL (missing).
- .xlsx, .xls (BIFF, older exports and WPS) and .csv (UTF-8 with or without BOM, GBK, GB18030)
  are read; a workbook may hold several tables as sheets named by table.
- `exported_at` is the workbook's core-properties `created` as written (the platform writes local
  Asia/Shanghai time); CSV files have none.
- One file never costs the run (`pipelines.ingest.guard`): whatever fails while a file is listed,
  read, identified, typed or quarantined quarantines that file with its reason; a college that
  fails as a whole is quarantined, the others load; a worker process that dies is replaced and its
  colleges are read in this process. The run fails only when the warehouse cannot be written.
- Nothing in the inbox is followed: a symlink (file or folder), FIFO or device is quarantined as
  such (a reason file only), never opened or copied. Workbooks are checked like zip deliveries
  before they are opened, CSV lines and cells are capped, CSV quoting is read strictly (a quote
  left open is named by its line), and formula cells without a calculated value are named in the
  file's log row (`reason`, status still `loaded`).

Settings (environment): ZHENGAI_ZIP_MAX_BYTES (512 MB), ZHENGAI_ZIP_MAX_RATIO (200),
ZHENGAI_ZIP_MAX_MEMBERS (2000) refuse absurd zips; ZHENGAI_FILE_MAX_BYTES (64 MiB),
ZHENGAI_WORKBOOK_MAX_BYTES (64 MiB), ZHENGAI_WORKBOOK_MAX_RATIO (200), ZHENGAI_CSV_MAX_LINE_BYTES
(65536) and ZHENGAI_CSV_MAX_CELLS (1,000,000) bound the memory one file may take;
ZHENGAI_INGEST_WORKERS (min(4, CPUs)) worker processes, forked from a fork server, read and type
colleges in parallel once there are ZHENGAI_INGEST_POOL_MIN_SCHOOLS (3) colleges, in tasks of
consecutive colleges holding about ZHENGAI_INGEST_CHUNK_BYTES (4 MiB) of files each (a worker's

The steps, one module each: `discover` (the inbox as deliveries), `identify` (which table a file or
sheet holds), `read` (a sheet or CSV as a grid of text), `headers` (find and map the header block,
cut out the rows), `coerce` (type the cells), `subtables` (join a newer platform's sub-tables),
`log` (the ingest log's one schema), `guard` (limits and failures), `blobs` (file bytes read or
deferred), `stamps` (the listings of files already hashed, writing half). The reading half
(`college`, run in worker processes by `pool`) never touches the warehouse; the writing half
(`write`) owns the DuckDB connection and the run's transaction. `cli` is `zhengai catalog`.
"""

from pipelines.ingest.blobs import _write_once
from pipelines.ingest.coerce import LABEL_COLUMNS, coerce, type_chunk
from pipelines.ingest.college import CollegeReader
from pipelines.ingest.discover import Delivery, discover
from pipelines.ingest.guard import Problem
from pipelines.ingest.headers import header_unit, loose_header, normalise_header, period_year
from pipelines.ingest.identify import SUBTABLE_NOTE, identify_table
from pipelines.ingest.log import LOG_COLUMNS, LOG_SCHEMA, LogRow, Summary
from pipelines.ingest.pool import ChunkResult, ChunkTask, SchoolWork, chunks_by_bytes, ingest_chunk
from pipelines.ingest.write import Ingest, ingest_inbox

__all__ = [
    "LABEL_COLUMNS",
    "LOG_COLUMNS",
    "LOG_SCHEMA",
    "SUBTABLE_NOTE",
    "ChunkResult",
    "ChunkTask",
    "CollegeReader",
    "Delivery",
    "Ingest",
    "LogRow",
    "Problem",
    "SchoolWork",
    "Summary",
    "_write_once",
    "chunks_by_bytes",
    "coerce",
    "discover",
    "header_unit",
    "identify_table",
    "ingest_chunk",
    "ingest_inbox",
    "loose_header",
    "normalise_header",
    "period_year",
    "type_chunk",
]
