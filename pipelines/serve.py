"""`zhengai serve` and `zhengai tokens …`: the static site over HTTP, each college behind its own token.

Who opens what: a college's token opens `/schools/<its code>/…` and `/assets/…`; the
secretariat's opens everything (`/province/…` included). A token arrives as `?token=` (the
server then keeps it in an HttpOnly cookie and redirects to the clean URL, so the token leaves
the address bar), as `Authorization: Bearer …`, or from that cookie. No token → 401, an unknown
or revoked one → 403, another college's pages → 403. Files are served only from inside the
site folder: `..` segments are refused and every path is resolved (symlinks included) and
checked to lie under the site before it is opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pipelines.settings import get_settings
from pipelines.tokens import SECRETARIAT, TokenRecord, find_token, issue_token, load_tokens, revoke_token

COOKIE = "zhengai_token"
COOKIE_MAX_AGE = 30 * 24 * 3600
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
ERRORS_ZH = {
    401: ("需要访问令牌", "请使用秘书处发给贵单位的专属链接（地址末尾带 ?token=…）打开本页面。"),
    403: ("无权访问", "访问令牌无效或已被撤销，或者该令牌无权查看此页面。如有疑问请联系诊改专委会秘书处。"),
    404: ("页面不存在", "没有找到该页面。请从本单位的看板首页进入。"),
}


def error_page(status: int) -> HTMLResponse:
    title, message = ERRORS_ZH[status]
    body = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>'
        f"{status} {title}</title></head><body style=\"font-family: sans-serif; max-width: 40rem; margin: 3rem auto\">"
        f"<h1>{status} {title}</h1><p>{message}</p></body></html>"
    )
    headers = {**SECURITY_HEADERS, **({"WWW-Authenticate": 'Bearer realm="zhengai"'} if status == 401 else {})}
    return HTMLResponse(body, status_code=status, headers=headers)


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def path_segments(path: str) -> list[str] | None:
    """The URL path as safe segments, or None when it could leave its folder (`..`, `.`, backslash, NUL)."""
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") or "\\" in segment or "\x00" in segment for segment in segments):
        return None
    return segments


def may_open(record: TokenRecord, segments: list[str]) -> bool:
    if record.role == SECRETARIAT:
        return True
    if segments[:1] == ["assets"]:
        return True
    return len(segments) >= 2 and segments[0] == "schools" and record.may_open_school(segments[1])


def home_path(record: TokenRecord) -> str:
    return "/province/" if record.role == SECRETARIAT else f"/schools/{record.school_code}/"


def resolve_file(site: Path, segments: list[str]) -> Path | None:
    """The file a URL names, only if it lies inside the site once every symlink is resolved."""
    root = site.resolve()
    target = root.joinpath(*segments).resolve()
    if not target.is_relative_to(root):
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() and target.resolve().is_relative_to(root) else None


def clean_url(request: Request) -> str:
    rest = [(key, value) for key, value in request.query_params.multi_items() if key != "token"]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


def create_app(site: Path | None = None, tokens_path: Path | None = None) -> Starlette:
    """The ASGI app serving `site` (default: the data home's site) with the tokens at `tokens_path`."""

    def current_site() -> Path:
        return site or get_settings().site

    async def open_link(request: Request, token: str) -> Response:
        record = find_token(token, load_tokens(tokens_path))
        if record is None or record.revoked:
            return error_page(403)
        response = RedirectResponse(clean_url(request), status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def serve(request: Request) -> Response:
        link_token = request.query_params.get("token")
        if link_token:
            return await open_link(request, link_token)
        token = presented_token(request)
        if token is None:
            return error_page(401)
        record = find_token(token, load_tokens(tokens_path))
        if record is None or record.revoked:
            return error_page(403)
        segments = path_segments(request.url.path)
        if segments is None:
            return error_page(404)
        if not segments:
            return RedirectResponse(home_path(record), status_code=303, headers=SECURITY_HEADERS)
        if not may_open(record, segments):
            return error_page(403)
        target = resolve_file(current_site(), segments)
        if target is None:
            return error_page(404)
        if target.name == "index.html" and not request.url.path.endswith(("/", ".html")):
            # Pages link their neighbours relatively: a folder must be addressed with its slash.
            return RedirectResponse(request.url.path + "/", status_code=301, headers=SECURITY_HEADERS)
        return FileResponse(target, headers=SECURITY_HEADERS)

    return Starlette(routes=[Route("/{path:path}", serve, methods=["GET", "HEAD"])])


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if not (settings.site / "province" / "index.html").is_file():
        print(f"zhengai serve: no site at {settings.site} yet (run `zhengai run` first)", file=sys.stderr)
    if not any(not record.revoked for record in load_tokens()):
        print("zhengai serve: no valid token yet: `zhengai tokens issue secretariat`", file=sys.stderr)
    print(f"serving {settings.site} at http://{args.host}:{args.port}/?token=<token>", flush=True)
    # Access logs would record the `?token=` of personal links, so they stay off.
    uvicorn.run(create_app(), host=args.host, port=args.port, access_log=False, server_header=False)
    return 0


def cmd_tokens_issue(args: argparse.Namespace) -> int:
    record, token = issue_token(args.subject)
    print(f"issued token {record.id} for {record.subject_zh}", file=sys.stderr)
    print(token)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    records = load_tokens()
    if not records:
        print("no tokens (zhengai tokens issue <school_code|secretariat>)")
        return 0
    print(f"{'id':<10}{'role':<13}{'school':<8}{'created_at':<27}revoked")
    for record in records:
        revoked = f"yes {record.revoked_at}" if record.revoked else "no"
        print(f"{record.id:<10}{record.role:<13}{record.school_code or '-':<8}{record.created_at:<27}{revoked}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    record = revoke_token(args.id)
    print(f"revoked token {record.id} ({record.subject_zh})")
    return 0


def register(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="serve the dashboards and reports over HTTP, per-college tokens")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    tokens = subparsers.add_parser("tokens", help="issue, list and revoke access tokens for `zhengai serve`")
    actions = tokens.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="print a new token (stdout only) for a school code or 'secretariat'")
    issue.add_argument("subject", metavar="school_code|secretariat")
    issue.set_defaults(func=cmd_tokens_issue)
    listing = actions.add_parser("list", help="list token ids, roles, creation dates and revocations (never tokens)")
    listing.set_defaults(func=cmd_tokens_list)
    revoke = actions.add_parser("revoke", help="revoke a token by its id or a unique prefix of it")
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_tokens_revoke)
