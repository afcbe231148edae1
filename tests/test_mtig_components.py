"""MTIG components under Pulumi mocks: the manifests, values and files they register."""

from __future__ import annotations

import json
import tomllib

import kubernetes_validate
import pulumi
import pytest
import yaml

from components.mtig import Datasource, MetricsStack, SecretRef, render
from components.mtig.grafana import DASHBOARDS_DIR, DATASOURCES_DIR
from components.mtig.influxdb import GRAFANA_TOKEN_SECRET, TELEGRAF_TOKEN_SECRET
from tests import mtig_support as ms
from tests.helpers import some

# Plugin sections Telegraf 1.32 documents and this stack may use.
TELEGRAF_SECTIONS = {"agent", "global_tags", "inputs.mqtt_consumer", "inputs.internal", "outputs.influxdb_v2",
                     "outputs.prometheus_client"}


@pytest.fixture
def rec() -> ms.Recorder:
    return ms.install()


def deploy(**overrides) -> MetricsStack:
    return MetricsStack(
        "mtig", ms.sample_args(**overrides), pulumi.ResourceOptions(provider=ms.k8s_provider())
    )


def config_map(rec: ms.Recorder, name: str) -> dict[str, str]:
    return rec.by_name(name).inputs["data"]


def telegraf_sections(doc: dict, prefix: str = "") -> set[str]:
    """Plugin section names in a parsed Telegraf config: `agent`, `inputs.mqtt_consumer`..."""
    names: set[str] = set()
    for key, value in doc.items():
        if key in ("inputs", "outputs", "processors", "aggregators", "secretstores") and not prefix:
            names |= {f"{key}.{plugin}" for plugin in value}
        elif isinstance(value, dict) and not prefix:
            names.add(key)
    return names


@pulumi.runtime.test
def test_every_rendered_manifest_passes_kubernetes_validate(rec):
    stack = deploy(mqtt_expose="loadbalancer", mqtt_tls_secret="mqtt-tls", grafana_hostname="grafana.mirkwood.lan")

    def check(_):
        manifests = rec.manifests()
        kinds = sorted({m["kind"] for m in manifests})
        assert kinds == [
            "ConfigMap", "Deployment", "Job", "Namespace", "PersistentVolumeClaim",
            "Role", "RoleBinding", "Secret", "Service", "ServiceAccount",
        ]
        for manifest in manifests:
            if manifest["kind"] == "Secret":
                # Masked values stand for strings; validate the shape with placeholders.
                data = manifest["stringData"]
                placeholder = {"masked": "x"} if data == ms.MASK else {k: "x" for k in data}
                manifest = {**manifest, "stringData": placeholder}
            kubernetes_validate.validate(manifest, ms.K3S_VERSION, strict=True)

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_kubernetes_validate_rejects_a_broken_manifest(rec):
    """The validation above can fail: a misspelt field in a rendered Deployment is caught."""
    stack = deploy()

    def check(_):
        deployment = rec.by_name("mtig-mosquitto-deployment").inputs
        deployment["spec"]["replicaz"] = 1
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, ms.K3S_VERSION, strict=True)

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_no_secret_outside_secrets(rec):
    stack = deploy()

    def check(_):
        for reg in rec.registrations:
            text = json.dumps(reg.revealed, sort_keys=True)
            if reg.type == "kubernetes:core/v1:Secret":
                # Every secret value is still marked secret when it reaches the engine.
                data = reg.inputs["stringData"]
                if data != ms.MASK:
                    for key, value in data.items():
                        if key not in ("username", "admin-user"):
                            assert value == ms.MASK, f"{reg.name}.{key} is not marked secret"
                continue
            for secret in ms.ALL_SECRETS:
                assert secret not in text, f"a secret value is in {reg.name}"
        secret_text = json.dumps(rec.by_name("mtig-mosquitto-passwords").revealed)
        assert f"$7${render.PBKDF2_ITERATIONS}$" in secret_text
        for password in ms.PASSWORDS.values():
            assert password not in secret_text, "password file holds a clear password"

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_telegraf_config_is_toml_with_real_plugins_and_no_credentials(rec):
    stack = deploy()

    def check(_):
        text = config_map(rec, "mtig-telegraf-config")["telegraf.conf"]
        doc = tomllib.loads(text)
        assert telegraf_sections(doc) <= TELEGRAF_SECTIONS
        (mqtt,) = doc["inputs"]["mqtt_consumer"]
        (influx,) = doc["outputs"]["influxdb_v2"]
        assert mqtt["servers"] == ["tcp://mosquitto.mtig.svc.cluster.local:1883"]
        assert mqtt["topics"] == ["sensors/#"]
        assert mqtt["data_format"] == "json"
        assert (mqtt["username"], mqtt["password"], influx["token"]) == (
            "${MQTT_USERNAME}", "${MQTT_PASSWORD}", "${INFLUX_TOKEN}",
        )
        assert influx["urls"] == ["http://influxdb.mtig.svc.cluster.local:80"]
        assert (influx["organization"], influx["bucket"]) == ("homelab", "sensors")
        for secret in ms.ALL_SECRETS:
            assert secret not in text
        (container,) = rec.by_name("mtig-telegraf-deployment").inputs["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert env == {
            "MQTT_USERNAME": {"name": "telegraf-mqtt", "key": "username"},
            "MQTT_PASSWORD": {"name": "telegraf-mqtt", "key": "password"},
            "INFLUX_TOKEN": {"name": TELEGRAF_TOKEN_SECRET, "key": "token"},
        }

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_telegraf_exposes_its_own_write_errors_to_prometheus(rec):
    # The InfluxDBWriteFailures alert reads internal_write_errors{output="influxdb_v2"}: Telegraf's
    # inputs.internal counts failed writes (influxdata/telegraf models/running_output.go,
    # selfstat "write"/"errors"), outputs.prometheus_client (metric_version 2) serves them as
    # <measurement>_<field>. Without them the alert can never fire.
    stack = deploy()

    def check(_):
        doc = tomllib.loads(config_map(rec, "mtig-telegraf-config")["telegraf.conf"])
        assert doc["inputs"]["internal"] == [{"collect_memstats": False}]
        (prom,) = doc["outputs"]["prometheus_client"]
        assert prom == {"listen": ":9273", "metric_version": 2, "namepass": ["internal_*"]}
        assert doc["outputs"]["influxdb_v2"][0]["namedrop"] == ["internal_*"]  # not into the sensor bucket
        (container,) = rec.by_name("mtig-telegraf-deployment").inputs["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "metrics", "containerPort": 9273, "protocol": "TCP"}]
        service = rec.by_name("mtig-telegraf-service").inputs
        assert service["metadata"]["name"] == "telegraf"
        assert service["spec"]["ports"] == [{"name": "metrics", "port": 9273, "targetPort": "metrics", "protocol": "TCP"}]
        assert stack.telegraf_metrics_target == "telegraf.mtig.svc.cluster.local:9273"

    return ms.settled(stack).apply(check)


def test_telegraf_section_check_catches_an_unknown_plugin():
    doc = tomllib.loads('[agent]\n[[inputs.mqtt_consumr]]\n[[outputs.influxdb_v2]]\n')
    assert not telegraf_sections(doc) <= TELEGRAF_SECTIONS


@pulumi.runtime.test
def test_grafana_provisioning_has_exactly_one_default_and_the_extra_datasources(rec):
    prometheus = Datasource(name="Prometheus", type="prometheus", uid="prometheus", url="http://prometheus.monitoring:9090")
    loki = Datasource(
        name="Loki", type="loki", uid="loki", url="http://loki.monitoring:3100",
        json_data={"maxLines": 1000}, secure_env={"basicAuthPassword": "LOKI_PASSWORD"},
    )
    stack = deploy(
        extra_datasources=[prometheus, loki],
        extra_secret_env={"LOKI_PASSWORD": SecretRef("loki-auth", "password")},
    )

    def check(_):
        doc = yaml.safe_load(config_map(rec, "mtig-grafana-datasources")["datasources.yaml"])
        assert doc["apiVersion"] == 1
        by_name = {d["name"]: d for d in doc["datasources"]}
        assert sorted(by_name) == ["InfluxDB", "Loki", "Prometheus"]
        assert [d["name"] for d in doc["datasources"] if d["isDefault"]] == ["InfluxDB"]
        influx = by_name["InfluxDB"]
        assert influx["type"] == "influxdb"
        assert influx["url"] == "http://influxdb.mtig.svc.cluster.local:80"
        assert influx["jsonData"] == {
            "version": "Flux", "organization": "homelab", "defaultBucket": "sensors", "tlsSkipVerify": False,
        }
        assert influx["secureJsonData"] == {"token": "${INFLUX_TOKEN}"}
        assert by_name["Loki"]["secureJsonData"] == {"basicAuthPassword": "${LOKI_PASSWORD}"}

        values = rec.by_name("mtig-grafana-release").inputs["values"]
        assert values["envValueFrom"] == {
            "INFLUX_TOKEN": {"secretKeyRef": {"name": GRAFANA_TOKEN_SECRET, "key": "token"}},
            "LOKI_PASSWORD": {"secretKeyRef": {"name": "loki-auth", "key": "password"}},
        }
        mounts = {m["configMap"]: m["mountPath"] for m in values["extraConfigmapMounts"]}
        assert mounts["grafana-datasources"] == DATASOURCES_DIR
        providers = yaml.safe_load(config_map(rec, "mtig-grafana-dashboard-providers")["mtig.yaml"])
        (provider,) = providers["providers"]
        assert provider["type"] == "file"
        assert provider["options"]["path"] == mounts["grafana-dashboards"] == DASHBOARDS_DIR
        dashboards = config_map(rec, "mtig-grafana-dashboards")
        parsed = [json.loads(text) for text in dashboards.values()]
        assert "mqtt-sensors" in {d["uid"] for d in parsed}
        queries = json.dumps(parsed)
        assert "mqtt_consumer" in queries and '"uid": "influxdb"' in queries

    return ms.settled(stack).apply(check)


@pytest.mark.parametrize(("influx_default", "prometheus_default", "count"), [(True, True, 2), (False, False, 0)])
def test_two_default_datasources_or_none_are_refused(rec, influx_default, prometheus_default, count):
    prometheus = Datasource(
        name="Prometheus", type="prometheus", uid="prometheus", url="http://prometheus:9090",
        is_default=prometheus_default,
    )
    args = ms.sample_args(extra_datasources=[prometheus], influx_is_default=influx_default)
    with pytest.raises(ValueError, match=f"exactly one default datasource is required, got {count}"):
        MetricsStack("mtig", args)


@pulumi.runtime.test
def test_influxdb_chart_values_take_credentials_from_a_secret(rec):
    stack = deploy(influxdb_storage="20Gi")

    def check(_):
        release = rec.by_name("mtig-influxdb-release").inputs
        assert (release["chart"], release["version"]) == ("influxdb2", "2.1.2")
        assert release["repositoryOpts"] == {"repo": "https://helm.influxdata.com/"}
        assert release["namespace"] == "mtig"
        values = release["values"]
        assert values["adminUser"] == {
            "organization": "homelab", "bucket": "sensors", "user": "admin",
            "retention_policy": "30d", "existingSecret": "influxdb-auth",
        }
        assert values["persistence"] == {"enabled": True, "useExisting": True, "name": "influxdb-data"}
        assert values["image"]["tag"] == "2.7.12"
        assert set(values["resources"]) == {"requests", "limits"}
        claim = rec.by_name("mtig-influxdb-data").inputs
        assert claim["metadata"]["name"] == "influxdb-data"
        assert claim["spec"]["resources"]["requests"] == {"storage": "20Gi"}
        auth = rec.by_name("mtig-influxdb-auth").revealed
        assert auth["metadata"]["name"] == "influxdb-auth"
        assert sorted(auth["stringData"]) == ["admin-password", "admin-token"]

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_scoped_tokens_are_made_by_a_job_allowed_to_write_only_those_secrets(rec):
    stack = deploy()

    def check(_):
        role = rec.by_name("mtig-influxdb-token-writer-role").inputs
        named = [r for r in role["rules"] if r.get("resourceNames")]
        assert named == [{
            "apiGroups": [""], "resources": ["secrets"],
            "resourceNames": sorted([GRAFANA_TOKEN_SECRET, TELEGRAF_TOKEN_SECRET]),
            "verbs": ["get", "patch", "update"],
        }]
        files = config_map(rec, "mtig-influxdb-token-job")
        kustomization = yaml.safe_load(files["kustomization.yaml"])
        generated = {g["name"]: g["files"] for g in kustomization["secretGenerator"]}
        assert generated == {
            GRAFANA_TOKEN_SECRET: ["token=grafana.token"], TELEGRAF_TOKEN_SECRET: ["token=telegraf.token"],
        }
        assert kustomization["namespace"] == "mtig"
        job = rec.by_name("mtig-influxdb-tokens")
        spec = job.inputs["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        env = {e["name"]: e for e in init["env"]}
        assert env["INFLUX_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "influxdb-auth", "key": "admin-token"}
        assert env["TELEGRAF_DESCRIPTION"]["value"] == "telegraf-write-sensors"
        (apply,) = spec["containers"]
        assert (apply["command"], apply["args"]) == (["kubectl"], ["apply", "-k", "/work"])
        # Telegraf and Grafana wait for the tokens; the Job waits for InfluxDB.
        release_urn = [r for r in rec.registrations if r.name == "mtig-influxdb-release"]
        assert any(d.endswith("::mtig-influxdb-release") for d in job.dependencies), release_urn
        for name in ("mtig-telegraf-deployment", "mtig-grafana-release"):
            assert any(d.endswith("::mtig-influxdb-tokens") for d in rec.by_name(name).dependencies), name

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_production_protects_the_data_volumes_and_namespace(rec):
    stack = deploy(protect=True)

    def check(_):
        guarded = {"mtig-namespace", "mtig-mosquitto-data", "mtig-influxdb-data", "mtig-grafana-data"}
        assert guarded <= {r.name for r in rec.registrations}
        for reg in rec.registrations:
            if reg.name in guarded:
                assert reg.protect and reg.retain_on_delete, reg.name
            elif reg.type != "pulumi:providers:kubernetes":
                assert not reg.protect, reg.name
        assert {r.name for r in rec.of_type("kubernetes:core/v1:PersistentVolumeClaim")} <= guarded

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_staging_volumes_are_easy_to_tear_down(rec):
    stack = deploy(protect=False)

    def check(_):
        volumes = {"mtig-namespace", "mtig-mosquitto-data", "mtig-influxdb-data", "mtig-grafana-data"}
        assert volumes <= {r.name for r in rec.registrations}
        assert not any(r.protect or r.retain_on_delete for r in rec.registrations)

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_every_kubernetes_resource_uses_the_given_provider(rec):
    stack = deploy()

    def check(_):
        kubernetes = some((r for r in rec.registrations if r.type.startswith("kubernetes:")), "Kubernetes resources")
        assert len(kubernetes) > 10, [r.name for r in kubernetes]
        for reg in kubernetes:
            assert reg.provider.endswith("::test-k3s"), (reg.name, reg.provider)

    return ms.settled(stack).apply(check)


@pulumi.runtime.test
def test_mosquitto_exposed_outside_only_over_tls(rec):
    stack = deploy(mqtt_expose="nodeport", mqtt_node_port=30883, mqtt_tls_secret="mqtt-tls")

    def check(_):
        external = rec.by_name("mtig-mosquitto-external").inputs["spec"]
        assert external["type"] == "NodePort"
        assert external["ports"] == [
            {"name": "mqtts", "port": 8883, "targetPort": "mqtts", "protocol": "TCP", "nodePort": 30883}
        ]
        internal = rec.by_name("mtig-mosquitto-service").inputs["spec"]
        assert internal["type"] == "ClusterIP"
        assert [p["port"] for p in internal["ports"]] == [1883, 8883]
        conf = config_map(rec, "mtig-mosquitto-config")["mosquitto.conf"]
        assert "listener 8883\ncertfile /mosquitto/certs/tls.crt\nkeyfile /mosquitto/certs/tls.key\n" in conf
        pod = rec.by_name("mtig-mosquitto-deployment").inputs["spec"]["template"]["spec"]
        certs = [v for v in pod["volumes"] if v["name"] == "certs"]
        assert certs == [{"name": "certs", "secret": {"secretName": "mqtt-tls", "defaultMode": 0o440}}]

    return ms.settled(stack).apply(check)


def test_mosquitto_refuses_to_leave_the_cluster_without_tls(rec):
    with pytest.raises(ValueError, match="needs a TLS certificate"):
        MetricsStack("mtig", ms.sample_args(mqtt_expose="loadbalancer"))


@pulumi.runtime.test
def test_outputs_are_endpoints(rec):
    stack = deploy(grafana_hostname="grafana.lothlorien.lan", grafana_tls_secret="grafana-tls",
                   mqtt_expose="loadbalancer", mqtt_tls_secret="mqtt-tls")

    def check(values):
        mqtt, grafana, influx, external, _ = values
        assert mqtt == "mqtt://mosquitto.mtig.svc.cluster.local:1883"
        assert grafana == "https://grafana.lothlorien.lan"
        assert influx == "http://influxdb.mtig.svc.cluster.local:80"
        assert external.startswith("mqtts://192.0.2.") and external.endswith(":8883")
        assert (stack.org, stack.bucket) == ("homelab", "sensors")
        ingress = rec.by_name("mtig-grafana-release").inputs["values"]["ingress"]
        assert ingress["hosts"] == ["grafana.lothlorien.lan"]

    return pulumi.Output.all(
        stack.mqtt_url, stack.grafana_url, stack.influxdb_url, stack.mqtt_external, ms.settled(stack)
    ).apply(check)


def _snapshot(rec: ms.Recorder) -> str:
    return json.dumps(sorted([r.type, r.name, r.revealed] for r in rec.registrations), sort_keys=True)


@pulumi.runtime.test
def test_rendering_is_deterministic(rec):
    first = deploy()

    def again(_):
        snapshot = _snapshot(rec)
        rec.restart()
        return snapshot

    def compare(snapshot):
        assert snapshot == _snapshot(rec)

    # Register the same stack a second time under another parent name and compare inputs.
    def second(snapshot):
        stack = MetricsStack("mtig", ms.sample_args(), pulumi.ResourceOptions(provider=ms.k8s_provider(), aliases=[]))
        return ms.settled(stack).apply(lambda _: compare(snapshot))

    return ms.settled(first).apply(again).apply(second)


@pulumi.runtime.test
def test_a_changed_password_rolls_the_broker_pod(rec):
    first = deploy()

    def annotations():
        pod = rec.by_name("mtig-mosquitto-deployment").inputs["spec"]["template"]["metadata"]
        return pod["annotations"]

    def second(before):
        rec.restart()
        passwords = {**{k: pulumi.Output.secret(v) for k, v in ms.PASSWORDS.items()},
                     "telegraf": pulumi.Output.secret("a-new-Secret-000")}
        stack = MetricsStack("mtig", ms.sample_args(mqtt_passwords=passwords),
                             pulumi.ResourceOptions(provider=ms.k8s_provider()))

        def compare(_):
            after = annotations()
            assert after["checksum/config"] == before["checksum/config"]
            assert after["checksum/passwords"] != before["checksum/passwords"]
            assert len(after["checksum/passwords"]) == 64  # a digest, in plain text, not a secret

        return ms.settled(stack).apply(compare)

    return ms.settled(first).apply(lambda _: annotations()).apply(second)
