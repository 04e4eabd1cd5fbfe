"""The leak test: every kind of secret, planted through the CLI and the push API in fields that land in
each stored column and in records that are quarantined, never comes out of any output (API answers,
console pages, CLI tables, JSONL, OCSF, quarantine, suppressions, push errors, logs) nor sits in any
column of any table of the store after detection has raised alerts with those events as evidence."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nhiwatch.cli import app as cli
from nhiwatch.redact import MASK
from nhiwatch.server import queries
from nhiwatch.server.app import create_app
from nhiwatch.server.state import Settings
from nhiwatch.server.tokens import create_token
from nhiwatch.store import Store
from tests.server import data
from tests.server.conftest import auth
from tests.server.test_console import signed_in

AWS_ID = "AKIAZQ9LEAKTEST00001"


def _pad(prefix: str, n: int, fill: str = "x7K") -> str:
    return (prefix + fill * n)[:n]


# kind -> (text planted in a field, the secret parts that must never come out)
PEM_1, PEM_2 = "MIIEZq9PemBodyLine1AAAAbbbb", "Zq9PemBodyLine2BBBBcccc"
PLANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws_named": (f"aws_secret_access_key={_pad('Zq9awsNamed/', 40)}", (_pad("Zq9awsNamed/", 40),)),
    "aws_unnamed": (f"{AWS_ID} {_pad('Zq9awsBare+', 40)}", (_pad("Zq9awsBare+", 40),)),
    **{
        f"github_{p}": (f"{p}_{_pad('Zq9' + p, 36)}", (_pad("Zq9" + p, 36),))
        for p in ("ghp", "gho", "ghs", "ghu", "ghr")
    },
    "github_pat": (f"github_pat_{_pad('11Zq9pat_', 60)}", (_pad("11Zq9pat_", 60),)),
    "slack_token": ("xoxb-1234567890-Zq9SlackBotTokenValue", ("Zq9SlackBotTokenValue",)),
    "slack_webhook": (
        "https://hooks.slack.com/services/T0ZQ9/B0ZQ9/Zq9WebhookSecret123",
        ("Zq9WebhookSecret123",),
    ),
    "google": (f"AIza{_pad('Zq9GoogleKey-', 35)}", (_pad("Zq9GoogleKey-", 35),)),
    "pem": (
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_1}\n{PEM_2}\n-----END RSA PRIVATE KEY-----",
        (PEM_1, PEM_2),
    ),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJacTkifQ.Zq9JwtSignaturePart", ("Zq9JwtSignaturePart",)),
    "bearer": ("Authorization: Bearer Zq9BearerTokenValue", ("Zq9BearerTokenValue",)),
    "azure_sas": ("https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig=Zq9SasSig%2Bv%3D", ("Zq9SasSig",)),
    "stripe_live": (f"sk_live_{_pad('Zq9StripeLive', 24)}", (_pad("Zq9StripeLive", 24),)),
    "stripe_restricted": (f"rk_live_{_pad('Zq9StripeRk', 24)}", (_pad("Zq9StripeRk", 24),)),
    "stripe_test": (f"sk_test_{_pad('Zq9StripeTest', 24)}", (_pad("Zq9StripeTest", 24),)),
    "twilio_key": ("SKfeedfacecafebeef9f9f9f9f9f9f9f9f", ("feedfacecafebeef9f9f9f9f9f9f9f9f",)),
    "twilio_auth": ("auth_token=Zq9TwilioAuthToken0123", ("Zq9TwilioAuthToken0123",)),
    "url_credentials": ("https://deploy:Zq9UrlPassw0rd@git.example.com/x", ("Zq9UrlPassw0rd",)),
    "password_pair": ("password=Zq9PasswordValue", ("Zq9PasswordValue",)),
    "secret_pair": ("secret=Zq9SecretPairValue", ("Zq9SecretPairValue",)),
    "token_pair": ("token=Zq9TokenPairValue", ("Zq9TokenPairValue",)),
}
ENTROPY = "Zq9HighEntropyFieldValue0123"  # in a field only named like a secret: "deploy_token"
TYPED = ("Zq9SuppressApiReason", "Zq9SuppressCliReason", "Zq9TriageNote", "Zq9ConsoleReason")
SECRETS = sorted({s for _, secrets in PLANTS.values() for s in secrets} | {ENTROPY, *TYPED})


def _squash(text: str) -> str:
    """Without whitespace and table borders: a wrapped or folded secret is still found."""
    return re.sub(r"[\s│┃║|─━═┌┐└┘├┤┬┴┼╭╮╰╯]+", "", text)


def leaks(text: str) -> list[str]:
    flat = _squash(text)
    return [s for s in SECRETS if s in text or _squash(s) in flat]


def _event(ms: int, n: str, **fields: object) -> dict[str, object]:
    return {"@timestamp": ms, "_document_id": n, "action": "git.clone", "org": "acme", **fields}


def planted(day: int) -> list[dict[str, object]]:
    """Per kind: an attributed release-bot event at 03:00 on ``day`` (evidence of the attack alerts) with the
    secret in its resource, user agent, status, scopes and destination, and an undeclared actor whose
    name, ids, app, credential, tenant and operation carry it."""
    t0 = int((data.START.timestamp() + day * 86400 + 3 * 3600) * 1000)
    out: list[dict[str, object]] = []
    for i, (kind, (text, _)) in enumerate(PLANTS.items()):
        ms = t0 + i * 61_000
        out.append(
            _event(
                ms,
                f"leak-a-{day}-{kind} {text}",
                actor="release-bot",
                actor_is_bot=True,
                actor_ip="198.51.100.66",
                repo=f"acme/{text}",
                user_agent=text,
                reason=text,
                token_scopes=text,
                hook_url=text,
                deploy_token=ENTROPY,
                programmatic_access_type="GitHub App server-to-server token",
            )
        )
        out.append(
            _event(
                ms + 1000,
                f"leak-b-{day}-{kind}",
                action=f"git.clone {text}",
                actor=f"{kind}-bot {text}",
                actor_id=text,
                actor_ip=text,
                oauth_application_id=text,
                oauth_application=text,
                token_id=text,
                org=text,
                message=text,
                programmatic_access_type=f"OAuth user-to-server token {text}",
            )
        )
    return out


def quarantined_lines(day: int) -> bytes:
    """Records ingest must set aside, each carrying every kind: no timestamp, a secret as the timestamp
    (the reason quotes it), and a broken JSON line."""
    lines = []
    for kind, (text, _) in PLANTS.items():
        lines.append(orjson.dumps({"_document_id": f"q-{day}-{kind}", "action": "git.clone", "actor": text}))
        lines.append(orjson.dumps({"@timestamp": text, "_document_id": f"t-{day}-{kind}", "action": "x"}))
        lines.append(b'{"action": "git.clone", "actor": ' + orjson.dumps(text) + b", ")
    return b"\n".join(lines) + b"\n"


@pytest.fixture
def planted_store(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A store built through the CLI with every kind planted, and the CLI's own outputs."""
    logs, inv = data.write_company(tmp_path)
    with logs.open("ab") as fh:
        fh.write(data.ndjson(planted(data.DAYS)))
    bad = tmp_path / "bad-audit.jsonl"
    bad.write_bytes(data.ndjson(data.history()[:3]) + quarantined_lines(data.DAYS))
    db = tmp_path / "s.duckdb"
    runner = CliRunner()
    outputs = []
    r = runner.invoke(cli, ["ingest", str(logs), str(bad), "--inventory", str(inv), "--db", str(db)])
    assert r.exit_code == 0, r.output
    outputs.append(r.output)
    r = runner.invoke(cli, ["detect", "--explain", "--db", str(db)])
    assert r.exit_code == 0, r.output
    outputs.append(r.output)
    yield db, outputs


def test_no_secret_leaves_any_output_or_sits_in_the_store(
    planted_store: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, outputs = planted_store
    runner = CliRunner()
    with Store(db) as store:
        admin = create_token(store, "leak-admin", "admin")
        analyst = create_token(store, "leak-analyst", "analyst")
    caplog.set_level(logging.DEBUG)
    application = create_app(db, settings=Settings(db))
    try:
        client = TestClient(application, base_url="http://127.0.0.1", raise_server_exceptions=False)
        # the push API: planted events of a later day, and records that are quarantined (400)
        body = data.ndjson(planted(data.DAYS + 1)) + quarantined_lines(data.DAYS + 1)
        r = client.post("/api/v1/ingest", content=body, headers=auth(analyst))
        assert r.status_code == 400 and r.json()["stored"] > 0 and r.json()["errors"], r.text
        outputs.append(r.text)
        for text, _ in PLANTS.values():  # values typed by a client come back in error messages
            outputs.append(
                client.post(
                    "/api/v1/ingest", params={"source": text}, content=body[:300], headers=auth(analyst)
                ).text
            )
            outputs.append(client.get(f"/api/v1/alerts/{quote(text, safe='')}", headers=auth(analyst)).text)
        application.state.nw.worker.run_once()

        listed = client.get("/api/v1/alerts", params={"limit": 1000}, headers=auth(analyst)).json()
        ids = [a["alert_id"] for a in listed["alerts"]]
        assert len(ids) >= 2
        outputs.append(orjson.dumps(listed).decode())
        details = [client.get(f"/api/v1/alerts/{i}", headers=auth(analyst)).text for i in ids]
        outputs += details
        assert any(MASK in d and "evidence_events" in d for d in details)
        integrations = client.get("/api/v1/integrations", headers=auth(analyst)).json()
        outputs.append(orjson.dumps(integrations).decode())
        iids = (
            [i["id"] for i in integrations["integrations"]]
            if isinstance(integrations, dict)
            else [i["id"] for i in integrations]
        )
        outputs += [client.get(f"/api/v1/integrations/{quote(i)}", headers=auth(analyst)).text for i in iids]
        # people type secrets too: a suppression reason, a triage note
        r = client.post(
            f"/api/v1/alerts/{ids[0]}/suppress",
            json={"reason": f"password={TYPED[0]}", "expires": "2099-01-01T00:00:00Z"},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        outputs.append(r.text)
        r = client.post(
            f"/api/v1/alerts/{ids[1]}/triage",
            json={"verdict": "benign", "note": f"token={TYPED[2]}"},
            headers=auth(analyst),
        )
        assert r.status_code == 200, r.text
        for path in (
            "/api/v1/suppressions",
            "/api/v1/tokens",
            "/healthz",
            "/metrics",
            f"/api/v1/alerts/{ids[1]}",
        ):
            outputs.append(client.get(path, headers=auth(admin)).text)
        # the console
        console = signed_in(application, admin)
        for status in ("open", "suppressed", "benign"):
            outputs.append(console.get(f"/alerts?status={status}").text)
        outputs += [console.get(f"/alerts/{i}").text for i in ids]
        outputs.append(console.get("/integrations").text)
        outputs += [console.get(f"/integrations/{quote(i)}").text for i in iids]
        outputs.append(console.get(f"/alerts/{quote(PLANTS['github_ghp'][0])}").text)
        # a failure deep in a request is logged with its traceback, masked
        boom = PLANTS["google"][0]

        def fail(*_: object, **__: object) -> None:
            raise RuntimeError(f"could not read {boom}")

        monkeypatch.setattr(queries, "list_alerts", fail)
        r = client.get("/api/v1/alerts", headers=auth(analyst))
        assert r.status_code == 500
        outputs.append(r.text)
    finally:
        application.state.nw.close()
    server_log = "\n".join(
        logging.Formatter().format(r) for r in caplog.records if r.name.startswith(("nhiwatch", "uvicorn"))
    )  # (the test client's own request log is not the server's)
    assert "could not read AIza" in server_log  # the traceback was logged, masked
    outputs.append(server_log)

    # the CLI's outputs
    for args in (
        ["alerts", "--explain"],
        ["alerts", "--format", "jsonl"],
        ["alerts", "--format", "ocsf"],
        ["alerts", "--status", "suppressed", "--format", "ocsf"],
        ["quarantine", "--limit", "500"],
        ["suppress", "add", "--detector", "*", "--reason", f"secret={TYPED[1]}", "--owner", "sec"],
        ["suppress", "list"],
    ):
        r = runner.invoke(cli, [*args, "--db", str(db)])
        assert r.exit_code == 0, (args, r.output)
        outputs.append(r.output)

    found = {i: leaks(text) for i, text in enumerate(outputs) if leaks(text)}
    assert not found, {
        i: (
            s,
            [
                outputs[i][max(0, m.start() - 150) : m.end() + 20]
                for x in s
                for m in re.finditer(re.escape(x[:8]), outputs[i])
            ][:2],
        )
        for i, s in found.items()
    }

    # and every column of every table of the store
    with Store(db) as store:
        columns = store.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY ALL"
        )
        stored = []
        for table, column in columns:
            for secret in SECRETS:
                n = store.scalar(
                    f'SELECT count(*) FROM "{table}" WHERE contains(CAST("{column}" AS VARCHAR), ?)', [secret]
                )
                if n:
                    stored.append((table, column, secret))
        assert store.scalar("SELECT count(*) FROM quarantine") >= 3 * len(PLANTS)
        assert store.scalar("SELECT count(*) FROM suppressions") >= 2
    assert not stored, stored
