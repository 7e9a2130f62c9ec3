"""Access tokens for `zhengai serve`: one per college (or for the secretariat), stored only hashed.

The store is `get_settings().tokens` (JSON). A token is shown once, when issued; the file keeps
its SHA-256 digest, its id, whom it opens (a school code, or the secretariat), when it was
created and whether it was revoked. The file is rewritten atomically and readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.files import atomic_write_text
from pipelines.settings import get_settings

SECRETARIAT = "secretariat"
SCHOOL_CODE = re.compile(r"^\d{5}$")
TOKEN_BYTES = 32
ID_HEX = 8


@dataclass(frozen=True)
class TokenRecord:
    id: str
    role: str  # 'school' | 'secretariat'
    school_code: str | None
    sha256: str
    created_at: str
    revoked: bool = False
    revoked_at: str | None = None

    @property
    def subject_zh(self) -> str:
        return "秘书处" if self.role == SECRETARIAT else f"学校 {self.school_code}"

    def may_open_school(self, school_code: str) -> bool:
        return self.role == SECRETARIAT or self.school_code == school_code


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def store_path() -> Path:
    return get_settings().tokens


def load_tokens(path: Path | None = None) -> list[TokenRecord]:
    path = path or store_path()
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [TokenRecord(**record) for record in data.get("tokens", [])]


def save_tokens(records: list[TokenRecord], path: Path | None = None) -> None:
    """Write the store atomically (a reader never sees half a file), mode 0600."""
    document = {"tokens": [asdict(record) for record in records]}
    atomic_write_text(path or store_path(), json.dumps(document, ensure_ascii=False, indent=2), mode=0o600)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def registered_school_codes() -> set[str]:
    """The school codes of the data home's registry (a missing or refused registry is one-line error)."""
    from pipelines.registry import load_registry

    return {row["school_code"] for row in load_registry().rows}


def issue_token(
    subject: str, path: Path | None = None, known_schools: Collection[str] | None = None
) -> tuple[TokenRecord, str]:
    """A new token for a school code (5 digits) or `secretariat`; returns the record and the token itself.

    With `known_schools` (the CLI passes the registry's codes), a code outside it is refused: a token
    for a college that does not exist opens nothing and hides a typo."""
    subject = subject.strip()
    if subject == SECRETARIAT:
        role, school_code = SECRETARIAT, None
    elif SCHOOL_CODE.match(subject):
        role, school_code = "school", subject
    else:
        raise ValueError(
            f"应为五位学校代码或 secretariat，实为 {subject!r} / expected a 5-digit school code or 'secretariat'"
        )
    if school_code and known_schools is not None and school_code not in known_schools:
        raise ValueError(
            f"院校名册中没有学校代码 {school_code}，未签发令牌（请核对代码，或先在名册中登记该校）"
            f" / {school_code} is not in the registry: no token issued"
        )
    records = load_tokens(path)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    known_ids = {record.id for record in records}
    token_id = secrets.token_hex(ID_HEX // 2)
    while token_id in known_ids:
        token_id = secrets.token_hex(ID_HEX // 2)
    record = TokenRecord(
        id=token_id, role=role, school_code=school_code, sha256=token_digest(token), created_at=now_text()
    )
    save_tokens([*records, record], path)
    return record, token


def revoke_token(id_or_prefix: str, path: Path | None = None) -> TokenRecord:
    """Revoke the one token whose id starts with `id_or_prefix`; ambiguity or no match is an error."""
    prefix = id_or_prefix.strip().lower()
    records = load_tokens(path)
    matches = [record for record in records if prefix and record.id.startswith(prefix)]
    if len(matches) != 1:
        found = "no token" if not matches else f"{len(matches)} tokens ({', '.join(r.id for r in matches)})"
        raise ValueError(
            f"{found} match id {id_or_prefix!r}: give a longer prefix or the full id (zhengai tokens list)"
        )
    target = matches[0]
    revoked = TokenRecord(**{**asdict(target), "revoked": True, "revoked_at": target.revoked_at or now_text()})
    save_tokens([revoked if record.id == target.id else record for record in records], path)
    return revoked


def find_token(token: str, records: list[TokenRecord]) -> TokenRecord | None:
    """The record whose digest matches `token` (revoked or not), compared in constant time."""
    digest = token_digest(token)
    found = None
    for record in records:
        if hmac.compare_digest(record.sha256, digest):
            found = record
    return found
