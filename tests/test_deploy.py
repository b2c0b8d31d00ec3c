"""The deployment files agree with the code (read, not run: there is no Docker engine or cluster here):
docker compose with a container per run (docker/dagster.yaml), the values for Dagster's Helm chart
(deploy/helm/), the image name, the code location's module and every environment variable the code reads."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
HELM = yaml.safe_load((ROOT / "deploy/helm/values.yaml").read_text())
SECRETS = list(yaml.safe_load_all((ROOT / "deploy/helm/ats-pipelines-secret.example.yaml").read_text()))
DOCKER_INSTANCE = yaml.safe_load((ROOT / "docker/dagster.yaml").read_text())
DOCKER_WORKSPACE = yaml.safe_load((ROOT / "docker/workspace.yaml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
USER_CODE = HELM["dagster-user-deployments"]["deployments"][0]


def variables_the_code_reads() -> set[str]:
    """Every ATS_/POLYGON_/UNUSUAL_WHALES_/ALPACA_ variable named in the package's source."""
    pattern = re.compile(r'"((?:ATS|POLYGON|UNUSUAL_WHALES|ALPACA)_[A-Z_]+)"')
    return {name for path in (ROOT / "ats_pipelines").rglob("*.py") for name in pattern.findall(path.read_text())}


def test_the_image_is_the_same_everywhere():
    image = COMPOSE["x-app"]["image"]
    assert image == "ats_pipelines:latest"
    assert USER_CODE["image"]["repository"] == image.split(":")[0] == PYPROJECT["project"]["name"]
    assert COMPOSE["services"]["code"]["environment"]["DAGSTER_CURRENT_IMAGE"] == image  # runs start from it
    assert "COPY docker/dagster.yaml docker/workspace.yaml" in (ROOT / "Dockerfile").read_text()


def test_every_file_names_the_code_locations_module_and_it_loads():
    module = PYPROJECT["tool"]["dagster"]["module_name"]
    assert module == PYPROJECT["tool"]["dg"]["project"]["code_location_target_module"]
    assert USER_CODE["dagsterApiGrpcArgs"] == ["--module-name", module]
    code = COMPOSE["services"]["code"]["command"]
    assert code[code.index("-m") + 1] == module
    grpc = DOCKER_WORKSPACE["load_from"][0]["grpc_server"]
    assert (grpc["host"], str(grpc["port"])) == ("code", code[code.index("-p") + 1])
    assert importlib.import_module(module).defs is not None


def test_every_variable_the_code_reads_is_set_by_compose_helm_and_passed_to_run_containers():
    needed = variables_the_code_reads()
    assert {"ATS_DATABASE_URL", "POLYGON_API_KEY", "ATS_MODEL_DIR", "ALPACA_API_SECRET_KEY"} <= needed
    compose = set(COMPOSE["x-app"]["environment"])
    assert needed <= compose, needed - compose
    helm = {e["name"] for e in USER_CODE["env"]}
    secret = next(s for s in SECRETS if s["metadata"]["name"] == "ats-pipelines")
    assert {s["name"] for s in USER_CODE["envSecrets"]} == {secret["metadata"]["name"]}
    assert needed <= helm | set(secret["stringData"]), needed - helm - set(secret["stringData"])
    assert not helm & set(secret["stringData"])  # each variable has one home
    assert not {k for k in helm if re.search("KEY|SECRET|PASSWORD", k)}  # no secret in plain values
    assert all(v == "CHANGE_ME" or "CHANGE_ME" in v for v in secret["stringData"].values())
    launched = set(DOCKER_INSTANCE["run_launcher"]["config"]["env_vars"])
    assert needed <= launched, needed - launched


def test_runs_get_their_own_container_or_job_with_queue_and_pool_limits():
    launcher = DOCKER_INSTANCE["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    assert launcher["config"]["network"] == COMPOSE["networks"]["ats"]["name"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in COMPOSE["services"]["daemon"]["volumes"]
    assert HELM["runLauncher"]["type"] == "K8sRunLauncher"
    assert HELM["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert HELM["postgresql"]["postgresqlDatabase"] == "ats_dagster"  # Dagster's storage, apart from market data
    assert "dagster-docker==0.29.27" in PYPROJECT["project"]["optional-dependencies"]["deploy"]
    assert "dagster-k8s==0.29.27" in PYPROJECT["project"]["optional-dependencies"]["deploy"]
    pools = {HELM["concurrency"]["pools"]["defaultLimit"], DOCKER_INSTANCE["concurrency"]["pools"]["default_limit"]}
    assert pools == {4}
    from ats_pipelines.definitions import defs

    pooled = {name for name in ("stock_aggs", "crypto_aggs", "options_aggs", "trades", "quotes")
              if defs.resolve_assets_def(name).op.pool == "polygon_api"}
    assert len(pooled) == 5  # the assets the pool limit holds back
