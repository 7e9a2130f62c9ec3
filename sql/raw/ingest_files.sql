-- What a committed run knew of each inbox file without reading it: its listing (size, mtime and ctime in
-- ns, inode; a zip member: its zip's) when its bytes hashed to file_sha256. Only files all of whose
-- tables loaded (or were unchanged) are kept: the next run trusts the sha256 while the listing is the same.
create table if not exists raw.ingest_files (
    source_file varchar,
    file_size bigint,
    mtime_ns bigint,
    ctime_ns bigint,
    inode ubigint,
    file_sha256 varchar,
    checked_at timestamp
)
