"""`zhengai serve` and `zhengai tokens …`: the static site over HTTP, each college behind its own token.

Who opens what: anyone opens `/public/…` (the disclosure site, pipelines/public_site.py) without a
token; a college's token opens `/schools/<its code>/…` and `/assets/…`; the secretariat's opens
everything (`/province/…` included). A token arrives as `?token=` (the server then keeps it in
an HttpOnly cookie and redirects to the clean URL, so the token leaves the address bar), as
`Authorization: Bearer …`, or from that cookie. No token → 401, an unknown
or revoked one → 403, another college's pages → 403. Files are served only from inside the
site folder: `..` segments are refused and every path is resolved (symlinks included) and
checked to lie under the site before it is opened. Redirects only ever name a local path.

Every response carries a Content-Security-Policy. A page's policy allows its own inline scripts
and styles by their SHA-256 hashes, computed from the page as served (no 'unsafe-inline'):
style attributes through 'unsafe-hashes', and the empty `<style>` element plotly.js creates
before filling it through the CSSOM (plotly.js issues #2355, #7109). Request headers are bounded:
uvicorn's h11 parser (not httptools, which buffers headers without limit) refuses a header block
beyond `MAX_HEADER_BYTES`, and the app answers 431 to more than `MAX_HEADERS` headers.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import re
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pipelines.settings import get_settings
from pipelines.tokens import (
    SCHOOL_CODE,
    SECRETARIAT,
    TokenRecord,
    find_token,
    issue_token,
    load_tokens,
    registered_school_codes,
    revoke_token,
)

COOKIE = "zhengai_token"
PUBLIC_FOLDER = "public"
COOKIE_MAX_AGE = 30 * 24 * 3600
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
MAX_CONNECTIONS = 500
KEEP_ALIVE_SECONDS = 5
STRICT_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# sha256 of the empty string: the <style> element plotly.js appends empty and fills with insertRule.
EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
INLINE_SCRIPT_RE = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
STYLE_ELEMENT_RE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
# The <style> elements plotly.min.js fills with a text literal when it loads (maplibre's CSS), whose
# hashes the pages that load it must allow.
SCRIPT_STYLE_RE = re.compile(r"""createElement\("style"\);[^;]{0,300}?\.textContent=(?:'([^'\\]*)'|"([^"\\]*)")""")
PLOTLY_JS = ("assets", "plotly.min.js")
STYLE_ATTRIBUTE_RE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
ERRORS_ZH = {
    401: ("需要访问令牌", "请使用秘书处发给贵单位的专属链接（地址末尾带 ?token=…）打开本页面。"),
    403: ("无权访问", "访问令牌无效或已被撤销，或者该令牌无权查看此页面。如有疑问请联系诊改专委会秘书处。"),
    404: ("页面不存在", "没有找到该页面。请从本单位的看板首页进入。"),
}


def source_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_policy(page: str, script_styles: tuple[str, ...] = ()) -> str:
    """The CSP of one HTML page: its own inline scripts, style elements and style attributes by hash,
    and `script_styles`, the hashes of the style elements its scripts create."""
    scripts = dict.fromkeys(source_hash(code) for code in INLINE_SCRIPT_RE.findall(page))
    styles = dict.fromkeys(
        [EMPTY_STYLE_HASH, *script_styles]
        + [source_hash(css) for css in STYLE_ELEMENT_RE.findall(page)]
        + [source_hash(html.unescape(double or single)) for double, single in STYLE_ATTRIBUTE_RE.findall(page)]
    )
    return (
        f"default-src 'none'; script-src 'self' {' '.join(scripts)}; "
        f"style-src 'self' 'unsafe-hashes' {' '.join(styles)}; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ).replace("'self' ;", "'self';")


@lru_cache(maxsize=8)
def script_style_hashes(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Hashes of the style texts a script injects (plotly.min.js: maplibre's CSS), read once per version."""
    code = Path(path).read_text(encoding="utf-8", errors="replace")
    return tuple(dict.fromkeys(source_hash(double or single) for double, single in SCRIPT_STYLE_RE.findall(code)))


def plotly_style_hashes(site: Path) -> tuple[str, ...]:
    script = site.joinpath(*PLOTLY_JS)
    if not script.is_file():
        return ()
    stat = script.stat()
    return script_style_hashes(str(script.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def cached_policy(path: str, mtime_ns: int, size: int, script_styles: tuple[str, ...]) -> str:
    """A page's policy, computed once per version of the file (the key changes when it is rewritten)."""
    page = Path(path).read_bytes().decode("utf-8", errors="replace")
    return page_policy(page, script_styles if PLOTLY_JS[-1] in page else ())


def page_response(target: Path, site: Path) -> Response:
    stat = target.stat()
    policy = cached_policy(str(target), stat.st_mtime_ns, stat.st_size, plotly_style_hashes(site))
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
    return Response(target.read_bytes(), media_type="text/html; charset=utf-8", headers=headers)


def error_page(status: int) -> HTMLResponse:
    title, message = ERRORS_ZH[status]
    body = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>'
        f'{status} {title}</title></head><body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto">'
        f"<h1>{status} {title}</h1><p>{message}</p></body></html>"
    )
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": page_policy(body),
        **({"WWW-Authenticate": 'Bearer realm="zhengai"'} if status == 401 else {}),
    }
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


def local_url(path: str, query: str = "") -> str:
    """`path` as a URL of this site: one leading slash, so `//host/…` or `/\\host` can never lead elsewhere."""
    segments = path_segments(path)
    if not segments:
        return "/" + (f"?{query}" if query else "")
    url = "/" + "/".join(quote(segment, safe="") for segment in segments) + ("/" if path.endswith("/") else "")
    return url + (f"?{query}" if query else "")


def clean_url(request: Request) -> str:
    rest = [(key, value) for key, value in request.query_params.multi_items() if key != "token"]
    return local_url(request.url.path, urlencode(rest))


class GuardMiddleware:
    """Refuse a request with more than MAX_HEADERS headers (431); give every response a CSP."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope["headers"]) > MAX_HEADERS:
            response = Response(
                "请求头过多 / too many request headers",
                status_code=431,
                headers={**SECURITY_HEADERS, "Content-Security-Policy": STRICT_POLICY, "Connection": "close"},
            )
            await response(scope, receive, send)
            return

        async def send_with_policy(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", STRICT_POLICY.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


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
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def serve(request: Request) -> Response:
        public = path_segments(request.url.path)
        if public and public[0] == PUBLIC_FOLDER:
            return send_file(request, public)  # the disclosure site (pipelines/public_site.py): no token
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
        return send_file(request, segments)

    def send_file(request: Request, segments: list[str]) -> Response:
        site_root = current_site()
        target = resolve_file(site_root, segments)
        if target is None:
            return error_page(404)
        if target.name == "index.html" and not request.url.path.endswith(("/", ".html")):
            # Pages link their neighbours relatively: a folder must be addressed with its slash.
            return RedirectResponse(local_url(request.url.path + "/"), status_code=301, headers=SECURITY_HEADERS)
        if target.suffix.lower() in (".html", ".htm"):
            return page_response(target, site_root)
        return FileResponse(target, headers=SECURITY_HEADERS)

    return Starlette(
        routes=[Route("/{path:path}", serve, methods=["GET", "HEAD"])], middleware=[Middleware(GuardMiddleware)]
    )


def server_config(app, host: str, port: int, **options):
    """uvicorn settings that bound what a client can make the server hold (header size, connections)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # Access logs would record the `?token=` of personal links, so they stay off.
        access_log=False,
        server_header=False,
        **options,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if not (settings.site / "province" / "index.html").is_file():
        print(
            f"zhengai serve: {settings.site} 还没有网页，请先运行 zhengai run / no site yet (run `zhengai run` first)",
            file=sys.stderr,
        )
    if not any(not record.revoked for record in load_tokens()):
        print(
            "zhengai serve: 还没有有效的访问令牌，请先运行 zhengai tokens issue secretariat / no valid token yet",
            file=sys.stderr,
        )
    print(f"网站 {settings.site} 已在 http://{args.host}:{args.port}/?token=<令牌> 提供 / serving", flush=True)
    uvicorn.Server(server_config(create_app(), args.host, args.port)).run()
    return 0


def cmd_tokens_issue(args: argparse.Namespace) -> int:
    subject = args.subject.strip()
    record, token = issue_token(
        subject, known_schools=registered_school_codes() if SCHOOL_CODE.match(subject) else None
    )
    print(f"已为 {record.subject_zh} 签发令牌 {record.id} / issued token", file=sys.stderr)
    print(token)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    records = load_tokens()
    if not records:
        print("还没有令牌（zhengai tokens issue <院校代码|secretariat>）/ no tokens")
        return 0
    print(f"{'id':<10}{'role':<13}{'school':<8}{'created_at':<27}revoked")
    for record in records:
        revoked = f"yes {record.revoked_at}" if record.revoked else "no"
        print(f"{record.id:<10}{record.role:<13}{record.school_code or '-':<8}{record.created_at:<27}{revoked}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    record = revoke_token(args.id)
    print(f"已吊销令牌 {record.id}（{record.subject_zh}）/ revoked token")
    return 0


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="通过 HTTP 提供看板和报告，各校凭访问令牌查看本校页面 / serve the pages over HTTP, per-college tokens",
    )
    serve.add_argument("--host", default="127.0.0.1", help="监听地址 / host")
    serve.add_argument("--port", type=int, default=8000, help="端口 / port")
    serve.set_defaults(func=cmd_serve)

    tokens = subparsers.add_parser(
        "tokens", help="签发、列出、撤销 zhengai serve 的访问令牌 / issue, list and revoke access tokens for serve"
    )
    actions = tokens.add_subparsers(dest="action", required=True, title="操作 actions")
    issue = actions.add_parser(
        "issue", help="为一所学校或秘书处签发新令牌（只打印一次）/ print a new token for a school code or 'secretariat'"
    )
    issue.add_argument(
        "subject",
        metavar="school_code|secretariat",
        help="名册中的学校代码，或 secretariat（秘书处）/ the token's holder",
    )
    issue.set_defaults(func=cmd_tokens_issue)
    listing = actions.add_parser(
        "list", help="列出令牌编号、角色、签发日期与撤销情况（不显示令牌）/ list token ids, roles, dates, revocations"
    )
    listing.set_defaults(func=cmd_tokens_list)
    revoke = actions.add_parser(
        "revoke", help="按编号或其唯一前缀撤销令牌 / revoke a token by its id or a unique prefix"
    )
    revoke.add_argument("id", help="令牌编号或其唯一前缀（见 tokens list）/ token id or a unique prefix of it")
    revoke.set_defaults(func=cmd_tokens_revoke)
