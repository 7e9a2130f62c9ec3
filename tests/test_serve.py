"""`zhengai serve` and `zhengai tokens`: a real uvicorn server on a free local port, raw HTTP requests.

(starlette's TestClient needs httpx, which is not installed; http.client also sends paths such as
`/../` and `%2e%2e` exactly as written, which is what a traversal test needs.)
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
import uvicorn

from pipelines.cli import build_parser, main
from pipelines.serve import COOKIE, create_app
from pipelines.settings import get_settings
from pipelines.tokens import issue_token, load_tokens, revoke_token, token_digest

OWN, OTHER = "90001", "90002"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A site with two colleges, the province, plotly.js, a secret beside the site and a symlink to it."""
    root = tmp_path_factory.mktemp("serve")
    site = root / "site"
    for code in (OWN, OTHER):
        (site / "schools" / code).mkdir(parents=True)
        (site / "schools" / code / "index.html").write_text(f"<p>学校{code}看板</p>", encoding="utf-8")
        (site / "schools" / code / "warnings-2024.html").write_text(f"<p>学校{code}预警</p>", encoding="utf-8")
    (site / "province").mkdir()
    (site / "province" / "index.html").write_text("<p>全区总览</p>", encoding="utf-8")
    (site / "assets").mkdir()
    (site / "assets" / "plotly.min.js").write_text("/* plotly */", encoding="utf-8")
    (root / "secret.txt").write_text("SECRET-OUTSIDE-SITE", encoding="utf-8")
    (site / "schools" / OWN / "leak.html").symlink_to(root / "secret.txt")
    (site / "schools" / OWN / "leakdir").symlink_to(root, target_is_directory=True)
    store = root / "tokens.json"
    tokens = {
        "own": issue_token(OWN, store)[1],
        "other": issue_token(OTHER, store)[1],
        "secretariat": issue_token("secretariat", store)[1],
    }
    revoked_record, tokens["revoked"] = issue_token(OWN, store)
    revoke_token(revoked_record.id, store)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(site=site, tokens_path=store), log_level="warning", access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert instance.started, "uvicorn did not start"
    yield {"port": port, "tokens": tokens, "store": store}
    instance.should_exit = True
    thread.join(timeout=5)
    sock.close()


def request(server, path: str, token: str | None = None, cookie: str | None = None, method: str = "GET"):
    """Send `path` byte for byte (no normalisation); returns (status, headers, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=5)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode("utf-8", errors="replace")
    conn.close()
    return response.status, {key.lower(): value for key, value in response.getheaders()}, body


def test_college_token_opens_its_own_pages(server):
    token = server["tokens"]["own"]
    status, _, body = request(server, f"/schools/{OWN}/index.html", token)
    assert status == 200 and f"学校{OWN}看板" in body
    assert request(server, f"/schools/{OWN}/warnings-2024.html", token)[0] == 200
    assert request(server, "/assets/plotly.min.js", token)[0] == 200


def test_college_token_is_refused_elsewhere(server):
    token = server["tokens"]["own"]
    status, _, body = request(server, f"/schools/{OTHER}/index.html", token)
    assert status == 403 and "无权访问" in body and f"学校{OTHER}" not in body
    assert request(server, "/province/index.html", token)[0] == 403
    assert request(server, "/tokens.json", token)[0] == 403


def test_secretariat_opens_everything(server):
    token = server["tokens"]["secretariat"]
    assert request(server, "/province/index.html", token)[0] == 200
    assert request(server, f"/schools/{OWN}/index.html", token)[0] == 200
    assert request(server, f"/schools/{OTHER}/index.html", token)[0] == 200


def test_no_token_is_401_in_chinese(server):
    status, headers, body = request(server, f"/schools/{OWN}/index.html")
    assert status == 401 and "需要访问令牌" in body
    assert headers["www-authenticate"].startswith("Bearer")


def test_unknown_and_revoked_tokens_are_403(server):
    assert request(server, f"/schools/{OWN}/index.html", "not-a-real-token")[0] == 403
    assert request(server, f"/schools/{OWN}/index.html", server["tokens"]["revoked"])[0] == 403
    assert request(server, f"/schools/{OWN}/index.html?token=not-a-real-token")[0] == 403


@pytest.mark.parametrize(
    "path",
    [
        f"/schools/{OWN}/../{OTHER}/index.html",
        f"/schools/{OWN}/%2e%2e/{OTHER}/index.html",
        f"/schools/{OWN}/%2E%2E/%2e%2e/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        f"/schools/{OWN}/..%2f..%2f..%2fsecret.txt",
        f"/schools/{OWN}/leak.html",
        f"/schools/{OWN}/leakdir/secret.txt",
        "//etc/passwd",
        f"/schools/{OWN}/%5c..%5c..%5csecret.txt",
    ],
)
def test_nothing_outside_the_site_is_served(server, path):
    for token in (server["tokens"]["own"], server["tokens"]["secretariat"]):
        status, _, body = request(server, path, token)
        assert status in (403, 404), (path, status)
        assert "SECRET-OUTSIDE-SITE" not in body and "root:" not in body


def test_personal_link_sets_a_cookie_session(server):
    token = server["tokens"]["own"]
    status, headers, _ = request(server, f"/schools/{OWN}/?token={token}")
    assert status == 303 and headers["location"] == f"/schools/{OWN}/"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    session = cookie.split(";", 1)[0]
    status, _, body = request(server, f"/schools/{OWN}/", cookie=session)
    assert status == 200 and f"学校{OWN}看板" in body
    assert request(server, f"/schools/{OTHER}/", cookie=session)[0] == 403


def test_root_and_folders_redirect(server):
    status, headers, _ = request(server, "/", server["tokens"]["own"])
    assert status == 303 and headers["location"] == f"/schools/{OWN}/"
    status, headers, _ = request(server, "/", server["tokens"]["secretariat"])
    assert status == 303 and headers["location"] == "/province/"
    status, headers, _ = request(server, f"/schools/{OWN}", server["tokens"]["own"])
    assert status == 301 and headers["location"] == f"/schools/{OWN}/"


def test_tokens_are_stored_hashed(server):
    stored = server["store"].read_text(encoding="utf-8")
    for token in server["tokens"].values():
        assert token not in stored
        assert token_digest(token) in stored
    records = json.loads(stored)["tokens"]
    assert {record["role"] for record in records} == {"school", "secretariat"}
    assert sum(record["revoked"] for record in records) == 1


def test_tokens_cli_issue_list_revoke(capsys):
    get_settings().registry.parent.mkdir(parents=True)
    get_settings().registry.write_text(
        f"school_code,name_zh,school_type,ownership,status\n{OWN},甲职业技术学院,理工,公办,active\n", encoding="utf-8"
    )
    assert main(["tokens", "issue", OWN]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40 and "\n" not in token
    record = load_tokens()[0]
    assert record.school_code == OWN and record.sha256 == token_digest(token)
    assert get_settings().tokens.stat().st_mode & 0o077 == 0

    assert main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert record.id in listing and token not in listing and "no" in listing

    assert main(["tokens", "revoke", record.id[:4]]) == 0
    assert load_tokens()[0].revoked


def test_tokens_cli_refuses_bad_input(capsys):
    assert main(["tokens", "issue", "not-a-code"]) == 2
    assert main(["tokens", "issue", "secretariat"]) == 0
    assert main(["tokens", "revoke", "zzzz"]) == 2
    assert "no token" in capsys.readouterr().err
    assert not load_tokens()[0].revoked


def test_serve_binds_to_localhost_by_default():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


# --- redirects stay on the site, every response has a CSP, header limits ----------------------------


@pytest.mark.parametrize(
    "path, location",
    [
        ("//evil.example/?token={token}", "/evil.example/"),
        ("///evil.example/x?token={token}", "/evil.example/x"),
        ("/\\evil.example/?token={token}", "/%255Cevil.example/"),  # http.client sends the backslash as %5C
        ("//evil.example/?a=1&token={token}", "/evil.example/?a=1"),
        ("/schools/{own}/?token={token}", "/schools/{own}/"),
    ],
)
def test_a_personal_link_redirects_only_to_a_local_path(server, path, location):
    token = server["tokens"]["own"]
    status, headers, _ = request(server, path.format(token=token, own=OWN))
    assert status == 303 and headers["location"] == location.format(own=OWN)
    assert headers["location"][1:2] not in ("/", "\\")


def test_a_folder_redirect_stays_local(server):
    status, headers, _ = request(server, f"//schools/{OWN}", server["tokens"]["own"])
    assert status == 301 and headers["location"] == f"/schools/{OWN}/"


def test_every_response_has_a_content_security_policy(server):
    own, secretariat = server["tokens"]["own"], server["tokens"]["secretariat"]
    responses = [
        request(server, f"/schools/{OWN}/index.html", own),
        request(server, f"/schools/{OWN}/index.html", own, method="HEAD"),
        request(server, "/assets/plotly.min.js", own),
        request(server, "/province/index.html", own),  # 403
        request(server, "/nothing-here.html", secretariat),  # 404
        request(server, f"/schools/{OWN}/index.html"),  # 401
        request(server, f"/schools/{OWN}/?token={own}"),  # 303
        request(server, f"/schools/{OWN}/index.html", own, method="POST"),  # 405 from the router
    ]
    for status, headers, _ in responses:
        policy = headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, (status, headers)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert [status for status, _, _ in responses] == [200, 200, 200, 403, 404, 401, 303, 405]


def test_a_pages_policy_allows_exactly_its_own_inline_code():
    from pipelines.serve import page_policy, source_hash

    page = '<style>b{color:red}</style><p style="color:blue">x</p><script>go()</script><script src="a.js"></script>'
    policy = page_policy(page)
    assert source_hash("go()") in policy and source_hash("b{color:red}") in policy
    assert source_hash("color:blue") in policy and "'unsafe-hashes'" in policy
    assert source_hash("evil()") not in policy and source_hash("a.js") not in policy


def test_too_many_headers_are_refused(server):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=5)
    conn.putrequest("GET", f"/schools/{OWN}/index.html")
    conn.putheader("Authorization", f"Bearer {server['tokens']['own']}")
    for index in range(150):
        conn.putheader(f"X-Filler-{index}", "x")
    conn.endheaders()
    assert conn.getresponse().status == 431
    conn.close()
