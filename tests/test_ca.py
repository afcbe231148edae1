"""HTTPS inside the lab (issue #18 point 5): the root the program makes, cert-manager on k3s with a
CA ClusterIssuer on it, Grafana's ingress annotated for cert-manager and published over HTTPS,
the root an output."""

from __future__ import annotations

import pulumi
import pytest

from components.ca import InternalCa, InternalCaArgs
from components.ca import component as ca
from synth import conformance
from synth.wire import MASK
from tests.conftest import ENVIRONMENTS, registered


def _by_type(run, token: str) -> list[dict]:
    return run.of_type(token)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cert_manager_issues_from_the_programs_root(env, synth_result):
    run = synth_result(env)
    (key,) = [r for r in _by_type(run, "tls:index/privateKey:PrivateKey") if r["name"] == f"{env}-ca-root-key"]
    (root,) = _by_type(run, "tls:index/selfSignedCert:SelfSignedCert")
    assert key["inputs"]["algorithm"] == "ECDSA" and key["inputs"]["ecdsaCurve"] == "P256"
    assert root["inputs"]["isCaCertificate"] is True and "cert_signing" in root["inputs"]["allowedUses"]
    assert root["inputs"]["privateKeyPem"] == MASK
    assert root["inputs"]["subject"]["commonName"] == f"{env} lab root CA"
    assert key["options"]["protect"] is root["options"]["protect"] is (env == "lothlorien")
    release = next(r for r in _by_type(run, "kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "cert-manager")
    assert release["inputs"]["version"] == "v1.19.6"
    assert release["inputs"]["repositoryOpts"] == {"repo": "https://charts.jetstack.io/"}
    assert release["inputs"]["values"]["crds"]["enabled"] is True
    namespace = release["inputs"]["namespace"]
    secret = next(r for r in _by_type(run, "kubernetes:core/v1:Secret") if r["inputs"]["metadata"]["name"] == ca.ROOT_SECRET)
    assert secret["inputs"]["metadata"]["namespace"] == namespace  # cert-manager's cluster resource namespace
    assert secret["inputs"]["type"] == "kubernetes.io/tls"
    assert secret["inputs"]["stringData"] == MASK  # the key makes the whole map secret
    (issuer,) = _by_type(run, "kubernetes:cert-manager.io/v1:ClusterIssuer")
    assert issuer["inputs"]["spec"] == {"ca": {"secretName": ca.ROOT_SECRET}}
    assert release["urn"] in issuer["dependencies"] and secret["urn"] in issuer["dependencies"]
    outputs = run.outputs
    assert outputs["ca"]["issuer"] == issuer["inputs"]["metadata"]["name"]
    assert outputs["ca"]["root_pem"].startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_grafana_is_served_over_https_with_a_certificate_from_the_lab_ca(env, synth_result):
    run = synth_result(env)
    grafana = next(r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "grafana")
    ingress = grafana["inputs"]["values"]["ingress"]
    # grafana/grafana chart values: ingress.annotations, ingress.tls[].secretName/hosts, ingressClassName.
    assert ingress["annotations"] == {ca.CLUSTER_ISSUER_ANNOTATION: run.outputs["ca"]["issuer"]}
    assert ingress["tls"] == [{"secretName": "grafana-tls", "hosts": [f"grafana.{env}.lan"]}]
    assert ingress["ingressClassName"] == "traefik"  # k3s's packaged Traefik, not disabled (names.py)
    assert grafana["inputs"]["values"]["grafana.ini"]["server"]["root_url"] == f"https://grafana.{env}.lan/"
    assert run.outputs["endpoints"]["grafana"] == f"https://grafana.{env}.lan"


def test_conformance_catches_a_misspelt_cluster_issuer_key():
    record = {"custom": True, "type": "kubernetes:cert-manager.io/v1:ClusterIssuer", "name": "x", "urn": "urn:x",
              "inputs": {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                         "metadata": {"name": "homelab-ca"}, "spec": {"ca": {"secretname": "homelab-ca"}}}}
    problems = conformance.check([record])
    assert any("spec.ca.secretname: not a property of CaIssuerArgs; did you mean 'secretName'?" in p
               for p in problems), problems
    assert any("spec.ca.secretName: required property" in p for p in problems), problems


@pulumi.runtime.test
def test_without_a_cluster_the_root_still_exists_and_nothing_runs_cert_manager():
    lab = InternalCa("cax-solo", InternalCaArgs(common_name="solo root", organization="homelab", cert_manager=False))

    def check(_):
        types = sorted(r["type"] for r in registered("cax-solo"))
        assert types == ["homelab:ca:InternalCa", "tls:index/privateKey:PrivateKey",
                         "tls:index/selfSignedCert:SelfSignedCert"]
        assert lab.issuer_name is None

    return pulumi.Output.all(lab.root_pem, lab.urn).apply(check)
