"""The Salesforce and AWS collectors are reachable the ways a user reaches any collector: ``nhiwatch
collect NAME`` (in a child process, with the key in a secret file) and the ``collectors:`` list of
``nhiwatch run``'s config, whose settings are checked against each collector's own model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.errors import ConfigError
from nhiwatch.monitor.config import load_run_config
from tests.collectors.conftest import serve
from tests.collectors.fake_salesforce import FakeSalesforce, key_pair, log_files

PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def nhiwatch(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "COLUMNS": "250", "HOME": str(cwd), **PYTHONPATH}
    return subprocess.run(
        [sys.executable, "-m", "nhiwatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**base, **env},
    )


def test_collect_salesforce_from_the_command_line_then_list(httpserver: HTTPServer, tmp_path: Path) -> None:
    private, public = key_pair()
    # The command line signs its JWT with the real clock (the other tests inject theirs).
    fake = FakeSalesforce(token="", public_key=public, files=log_files(2), now=time.time())
    url = serve(httpserver, fake)
    key_file = tmp_path / "sf.pem"
    key_file.write_text(private)
    key_file.chmod(0o600)
    env = {
        "NHIWATCH_SALESFORCE_PRIVATE_KEY_FILE": str(key_file),
        "NHIWATCH_SALESFORCE_USERNAME": fake.username,
    }
    db = tmp_path / "n.duckdb"
    args = ["collect", "salesforce", "--db", db, "--base-url", url, "-o", f"consumer_key={fake.consumer_key}"]
    run = nhiwatch(*args, "-o", "streams=EventLogFile.Hourly", "--since", "30d", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert len(fake.downloads) == 2
    listed = nhiwatch("collect", "--list", "--db", db, cwd=tmp_path, env={})
    assert listed.returncode == 0, listed.stderr
    assert "EventLogFile.Hourly" in listed.stdout and "cloudtrail_s3" in listed.stdout
    assert "security_lake" in listed.stdout
    missing = nhiwatch(*args, cwd=tmp_path, env={"NHIWATCH_SALESFORCE_USERNAME": fake.username})
    assert missing.returncode == 2 and "NHIWATCH_SALESFORCE_PRIVATE_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr and "BEGIN" not in run.stderr + run.stdout


def test_run_config_takes_the_new_collectors_and_checks_their_settings(tmp_path: Path) -> None:
    good = tmp_path / "nhiwatch.yaml"
    good.write_text(
        """
collectors:
  - name: salesforce
    every: 15m
    settings:
      base_url: https://acme.my.salesforce.com
      consumer_key: 3MVG9abcdefghijk
      username: nhiwatch@acme.example
      streams: EventLogFile.Hourly,LoginEvent
  - name: cloudtrail_s3
    every: 5m
    settings: {bucket: acme-cloudtrail-logs, prefix: org/, regions: "us-east-1,eu-west-1"}
  - name: security_lake
    settings: {bucket: aws-security-data-lake-us-east-1-abc, prefix: aws/CLOUD_TRAIL_MGMT/2.0/}
"""
    )
    config = load_run_config(good)
    assert [c.name for c in config.collectors] == ["salesforce", "cloudtrail_s3", "security_lake"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "collectors:\n  - name: cloudtrail_s3\n    settings: {bucket: acme-logs, aws_secret_access_key: abc123}\n"
    )
    with pytest.raises(ConfigError, match="aws_secret_access_key") as err:
        load_run_config(bad)
    assert "abc123" not in str(err.value)
