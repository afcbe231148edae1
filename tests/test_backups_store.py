"""The off-cluster backup bucket (components/backups/store.py): versioned, private, never emptied by
a delete, protected and kept in production; the store's credentials only as secrets."""

from __future__ import annotations

import pytest

from synth.wire import MASK
from tests.conftest import ENVIRONMENTS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bucket_is_versioned_and_protected_in_production(env, synth_result):
    run = synth_result(env)
    (bucket,) = run.of_type("minio:index/s3Bucket:S3Bucket")
    (versioning,) = run.of_type("minio:index/s3BucketVersioning:S3BucketVersioning")
    (provider,) = run.of_type("pulumi:providers:minio")
    assert bucket["inputs"] == {"bucket": f"homelab-{env}-backups", "acl": "private", "forceDestroy": False}
    assert versioning["inputs"]["versioningConfiguration"] == {"status": "Enabled"}
    production = env == "lothlorien"
    for resource in (bucket, versioning):
        assert resource["options"]["protect"] is production
        assert resource["options"]["retain_on_delete"] is production
        assert resource["provider"].startswith(provider["urn"])
    assert provider["inputs"]["minioUser"] == MASK and provider["inputs"]["minioPassword"] == MASK
    assert provider["inputs"]["minioServer"] == "minio.lan:9000" and provider["inputs"]["minioSsl"] == "true"  # provider config travels as strings
