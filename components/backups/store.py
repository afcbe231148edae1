"""The off-cluster backup bucket on the S3-compatible store (MinIO), versioned and private.

Provider facts (aminueza/terraform-provider-minio, behind pulumi-minio 0.17.1,
minio/resource_minio_s3_bucket.go): `bucket` is ForceNew; `force_destroy` defaults to false, and
deleting a bucket that still holds objects fails unless it is set; creating a bucket that already
exists fails ("bucket already exists!"): adopt an existing one with `pulumi import`. Versioning
keeps every overwritten or deleted backup object recoverable until MinIO's lifecycle removes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_minio as minio

TYPE = "homelab:backups:Store"


@dataclass(frozen=True)
class StoreArgs:
    endpoint: str  # host:port
    bucket: str
    region: str
    tls: bool
    access_key: pulumi.Input[str]  # secret
    secret_key: pulumi.Input[str]  # secret
    protect: bool = False  # production: never deleted or replaced by a preview


class Store(pulumi.ComponentResource):
    bucket: minio.S3Bucket

    def __init__(self, name: str, args: StoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self.provider = minio.Provider(
            f"{name}-provider",
            minio_server=args.endpoint,
            minio_region=args.region,
            minio_ssl=args.tls,
            minio_user=pulumi.Output.secret(args.access_key),
            minio_password=pulumi.Output.secret(args.secret_key),
            opts=pulumi.ResourceOptions(parent=self),
        )
        kept = pulumi.ResourceOptions(parent=self, provider=self.provider, protect=args.protect,
                                      retain_on_delete=args.protect)
        self.bucket = minio.S3Bucket(f"{name}-bucket", bucket=args.bucket, acl="private", force_destroy=False,
                                     opts=kept)
        self.versioning = minio.S3BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.bucket,
            versioning_configuration=minio.S3BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=kept,
        )
        self.register_outputs({"bucket": self.bucket.bucket})
