"""The deployment files: linted by the real tools, and kept in step with the code.

hadolint (Dockerfile), docker-compose config (compose file), systemd-analyze (units),
nginx -t and a live nginx (no secret in any log), promtool (scrape config, alert rules
and their unit tests); the settings documented in gateway.env.example are exactly the
ones gateway/settings.py reads; OPERATIONS.md lists exactly the metrics
gateway/observability/metrics.py exposes.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from gateway.observability.metrics import Metrics
from gateway.settings import PREFIX, Settings, SMSCSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "gateway.env.example"
ASSIGNMENT = re.compile(r"^(#?)\s*(GATEWAY_[A-Z0-9_]+)=(.*)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


# --- settings <-> gateway.env.example ---------------------------------------------------


def variables_read_by_settings() -> set[str]:
    """Every NAME in reader.xxx("NAME", ...) / keys.xxx("NAME", ...) of settings.py."""
    tree = ast.parse((ROOT / "gateway" / "settings.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("reader", "keys")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(PREFIX + node.args[0].value)
    return found


def example_assignments() -> list[tuple[bool, str, str, int]]:
    """(commented, name, value, line index) for each assignment in the example."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match:
            found.append((match.group(1) == "#", match.group(2), match.group(3), index))
    return found


def test_settings_reader_finds_the_variables() -> None:
    # guards the AST walk itself: a refactor of settings.py must not make it see nothing
    names = variables_read_by_settings()
    assert {"GATEWAY_PORT", "GATEWAY_SMSC", "GATEWAY_HASH_KEY", "GATEWAY_DB"} <= names


def test_every_setting_is_documented_in_the_example_and_nothing_else() -> None:
    documented = {name for _, name, _, _ in example_assignments()}
    read = variables_read_by_settings()
    assert read - documented == set(), "settings missing from gateway.env.example"
    assert documented - read == set(), "gateway.env.example documents unknown settings"


def test_every_setting_has_an_explanation_above_its_first_line() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    seen: set[str] = set()
    for _, name, _, index in example_assignments():
        if name in seen:
            continue
        seen.add(name)
        above = lines[index - 1]
        assert above.startswith("# ") and not ASSIGNMENT.match(above), f"{name} is unexplained"


def test_each_setting_is_set_at_most_once_uncommented() -> None:
    active = [name for commented, name, _, _ in example_assignments() if not commented]
    assert len(active) == len(set(active))


def test_the_example_boots_as_it_is(tmp_path: Path) -> None:
    env = {name: value for commented, name, value, _ in example_assignments() if not commented}
    env["GATEWAY_DATA_DIR"] = str(tmp_path)
    settings = Settings.from_env(env)
    assert settings.session_ttl == 180
    assert settings.db_url == str(tmp_path / "gateway.db")
    assert settings.smsc == ()


def test_every_commented_example_value_is_accepted(tmp_path: Path) -> None:
    for commented, name, value, _ in example_assignments():
        if not commented or not value:
            continue
        value = value.replace("@/etc/gateway/smsc.json", f"@{DEPLOY / 'smsc.json.example'}")
        Settings.from_env({name: value, "GATEWAY_DATA_DIR": str(tmp_path)})


def test_the_smsc_example_names_every_smsc_key_and_loads(tmp_path: Path) -> None:
    example = DEPLOY / "smsc.json.example"
    keys = set(json.loads(example.read_text(encoding="utf-8"))[0])
    assert keys == set(SMSCSettings.__dataclass_fields__)
    settings = Settings.from_env({"GATEWAY_SMSC": f"@{example}", "GATEWAY_DATA_DIR": str(tmp_path)})
    assert settings.smsc[0].name == "op1"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for key in keys:
        assert re.search(rf"^#\s+{key}\b|^#\s+\w+, {key}\b|^#\s+{key}, ", text, re.M), key


def test_the_routes_example_names_every_route_key_and_loads(tmp_path: Path) -> None:
    from gateway.settings import RouteSettings

    example = DEPLOY / "routes.json.example"
    keys = set(json.loads(example.read_text(encoding="utf-8"))[0])
    assert keys == set(RouteSettings.__dataclass_fields__)
    smscs = json.loads((DEPLOY / "smsc.json.example").read_text(encoding="utf-8"))
    for smsc in smscs:
        del smsc["routes"]  # the routes are in GATEWAY_ROUTES instead (not both)
    settings = Settings.from_env(
        {
            "GATEWAY_SMSC": json.dumps(smscs),
            "GATEWAY_ROUTES": f"@{example}",
            "GATEWAY_DATA_DIR": str(tmp_path),
        }
    )
    assert [route.name for route in settings.routes] == ["kenya", "elsewhere"]
    assert settings.routes[0].countries == ("KE",) and settings.routes[0].tps == 40


# --- Dockerfile and compose ---------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    run("hadolint", DEPLOY / "Dockerfile")


def test_dockerfile_copies_only_what_exists_and_the_ignore_file_keeps_it() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    sources = [
        part
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for part in line.split()[1:-1]
    ]
    assert sources, "no COPY found"
    for source in sources:
        assert (ROOT / source.rstrip("/")).exists(), source
    kept = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert {source.rstrip("/") for source in sources} <= kept


def compose(tmp_path: Path, *arguments: str, password: str | None = "pw") -> str:
    shutil.copy(DEPLOY / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(ENV_EXAMPLE, tmp_path / "gateway.env")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return run("docker-compose", "-f", tmp_path / "compose.yaml", *arguments, cwd=tmp_path, env=env)


def test_compose_file_is_valid_and_wires_redis_and_postgres(tmp_path: Path) -> None:
    config = yaml.safe_load(compose(tmp_path, "config"))
    services = config["services"]
    assert set(services) == {"gateway", "gateway-2", "broadcast", "redis", "postgres"}
    gateway = services["gateway"]
    assert gateway["environment"]["GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
    assert gateway["environment"]["GATEWAY_DB"].startswith("postgresql://gateway:pw@postgres")
    assert services["broadcast"]["command"] == ["broadcast", "run"]
    assert gateway["read_only"] is True
    assert all(port["host_ip"] == "127.0.0.1" for port in _ports(gateway))


def _ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, str):
            host_ip, published, target = port.split(":")
            ports.append({"host_ip": host_ip, "published": published, "target": target})
        else:
            ports.append(port)
    return ports


def test_compose_second_worker_and_broadcast_worker_come_only_with_profiles(tmp_path: Path) -> None:
    services = yaml.safe_load(compose(tmp_path, "config"))["services"]
    assert services["gateway-2"]["profiles"] == ["scale"]
    assert services["broadcast"]["profiles"] == ["broadcast"]
    profiled = sorted(name for name, service in services.items() if "profiles" in service)
    assert profiled == ["broadcast", "gateway-2"]
    assert _ports(services["gateway-2"])[0]["published"] in ("8081", 8081)


def test_compose_refuses_to_run_without_a_database_password(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        compose(tmp_path, "config", password=None)


# --- systemd ----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["gateway.service", "gateway-broadcast.service"])
def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path, unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    assert "ExecStart=/opt/gateway/venv/bin/gateway " in text
    # verify insists that ExecStart's binary exists: point it at a stand-in
    stand_in = tmp_path / "gateway"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    copy = tmp_path / unit
    copy.write_text(text.replace("/opt/gateway/venv/bin/gateway", str(stand_in)))
    output = run("systemd-analyze", "verify", copy)
    assert "warning" not in output.lower()
    # exposure score out of 100 (the "1.2 OK" of `systemd-analyze security`): at most 2.0
    run("systemd-analyze", "security", "--offline=true", "--threshold=20", copy)


def test_broadcast_unit_runs_the_broadcast_worker() -> None:
    text = (DEPLOY / "systemd" / "gateway-broadcast.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/gateway/venv/bin/gateway broadcast run\n" in text


# --- Prometheus -------------------------------------------------------------------------


def test_prometheus_config_and_rules_pass_promtool() -> None:
    run("promtool", "check", "config", "prometheus.yml", cwd=DEPLOY / "prometheus")
    run("promtool", "check", "rules", "alerts.yml", cwd=DEPLOY / "prometheus")


def test_alert_rules_fire_as_their_unit_tests_say() -> None:
    output = run("promtool", "test", "rules", "alerts.test.yml", cwd=DEPLOY / "prometheus")
    assert "SUCCESS" in output


def test_alert_rules_only_use_metrics_that_exist() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    exposed = set(Metrics().names())
    histogram_series = {
        name + suffix for name in exposed for suffix in ("_bucket", "_sum", "_count")
    }
    used = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule)
            assert rule["labels"]["severity"] in ("warning", "critical")
            used |= set(re.findall(r"\bgateway_[a-z_]+", rule["expr"]))
    assert used, "no gateway metric in any rule"
    assert used <= exposed | histogram_series


def test_operations_guide_lists_exactly_the_exposed_metrics() -> None:
    guide = (DEPLOY / "OPERATIONS.md").read_text(encoding="utf-8")
    section = guide.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(gateway_[a-z_]+)`", section, re.M))
    assert listed == set(Metrics().names())


# --- nginx ------------------------------------------------------------------------------

SECRET = "s3cret-in-the-query-0123456789"


def adapted_nginx_config(tmp_path: Path, ports: dict[str, int]) -> Path:
    """The shipped site with test certificates, loopback ports and logs in tmp_path."""
    run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem",
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "gateway.conf").read_text(encoding="utf-8")
    replacements = {
        "/etc/letsencrypt/live/ussd.example.org/fullchain.pem": str(tmp_path / "cert.pem"),
        "/etc/letsencrypt/live/ussd.example.org/privkey.pem": str(tmp_path / "key.pem"),
        "/var/log/nginx/": f"{tmp_path}/",
        "listen [::]:80;": "",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{ports['http']};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{ports['https']} ssl http2;",
        "server 127.0.0.1:8080 ": f"server 127.0.0.1:{ports['dead']} ",
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{ports['backend']} ",
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"daemon off;\nmaster_process off;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/main-error.log;\nevents {{}}\n"
        f"http {{\n include {tmp_path}/site.conf;\n}}\n"
    )
    return main


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("http", "https", "dead", "backend")}
    main = adapted_nginx_config(tmp_path, ports)
    run("nginx", "-t", "-p", tmp_path, "-c", main)


def test_nginx_log_formats_never_name_the_query_string() -> None:
    site = (DEPLOY / "nginx" / "gateway.conf").read_text(encoding="utf-8")
    directives = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("#"))
    for variable in (
        "$request ",
        '$request"',
        "$request'",
        "$request_uri",
        "$args",
        "$query_string",
        "$arg_",
    ):
        assert variable not in directives, variable


def read_logs(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in folder.glob("*.log")}


async def test_nginx_keeps_the_callback_secret_out_of_every_log(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("http", "https", "dead", "backend")}
    main = adapted_nginx_config(tmp_path, ports)

    async def ussd(request: web.Request) -> web.Response:
        return web.Response(text="END ok" if request.query.get("key") == SECRET else "END no")

    backend = web.Application()
    backend.router.add_post("/africastalking/ussd", ussd)
    runner = web.AppRunner(backend, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", ports["backend"]).start()
    nginx = await asyncio.create_subprocess_exec(
        "nginx",
        "-p",
        str(tmp_path),
        "-c",
        str(main),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"https://127.0.0.1:{ports['https']}"
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False), timeout=aiohttp.ClientTimeout(total=10)
        ) as session:
            for _ in range(100):  # nginx starts within moments
                try:
                    async with session.get(f"{base}/healthz") as response:
                        assert response.status == 404  # not exposed publicly
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            statuses, bodies = [], []
            for _ in range(4):  # round robin: some hit the dead upstream first
                async with session.post(
                    f"{base}/africastalking/ussd?key={SECRET}", data={"text": ""}
                ) as response:
                    statuses.append(response.status)
                    bodies.append(await response.text())
            async with session.get(
                f"http://127.0.0.1:{ports['http']}/africastalking/ussd?key={SECRET}",
                allow_redirects=False,
            ) as redirect:
                location = redirect.headers["Location"]
        await runner.cleanup()  # now every upstream is down: a 502, logged at crit only
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session,
            session.post(f"{base}/africastalking/ussd?key={SECRET}") as response,
        ):
            down_status = response.status
    finally:
        nginx.terminate()
        await asyncio.wait_for(nginx.wait(), 10)
        await runner.cleanup()
    assert statuses == [200] * 4 and bodies == ["END ok"] * 4
    assert down_status == 502
    assert SECRET not in location and location.endswith("/africastalking/ussd")
    logs = read_logs(tmp_path)
    assert "gateway.access.log" in logs
    assert "POST /africastalking/ussd HTTP/1.1" in logs["gateway.access.log"]
    for name, text in logs.items():
        assert SECRET not in text, f"the secret leaked into {name}"
