"""What Linode offers that this program uses: regions, instance types and cloud-init images.

Checked against the Linode API (`linode-cli regions list`, `linode-cli linodes types`,
`linode-cli images list`); `metadata` is the region's "Metadata" capability, without which an
instance gets no cloud-init user-data and is provisioned over SSH instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    label: str
    metadata: bool


@dataclass(frozen=True)
class InstanceType:
    label: str
    vcpus: int
    memory_mb: int


REGIONS: dict[str, Region] = {
    # Core compute regions opened with the Metadata service.
    "br-gru": Region("Sao Paulo, BR", metadata=True),
    "es-mad": Region("Madrid, ES", metadata=True),
    "fr-par": Region("Paris, FR", metadata=True),
    "id-cgk": Region("Jakarta, ID", metadata=True),
    "in-maa": Region("Chennai, IN", metadata=True),
    "it-mil": Region("Milan, IT", metadata=True),
    "jp-osa": Region("Osaka, JP", metadata=True),
    "nl-ams": Region("Amsterdam, NL", metadata=True),
    "se-sto": Region("Stockholm, SE", metadata=True),
    "us-iad": Region("Washington, DC", metadata=True),
    "us-lax": Region("Los Angeles, CA", metadata=True),
    "us-mia": Region("Miami, FL", metadata=True),
    "us-ord": Region("Chicago, IL", metadata=True),
    "us-sea": Region("Seattle, WA", metadata=True),
    # Older regions: provision over SSH unless the account's region view lists Metadata.
    "ap-northeast": Region("Tokyo, JP", metadata=False),
    "ap-south": Region("Singapore, SG", metadata=False),
    "ap-southeast": Region("Sydney, AU", metadata=False),
    "ap-west": Region("Mumbai, IN", metadata=False),
    "ca-central": Region("Toronto, CA", metadata=False),
    "eu-central": Region("Frankfurt, DE", metadata=False),
    "eu-west": Region("London, UK", metadata=False),
    "us-central": Region("Dallas, TX", metadata=False),
    "us-east": Region("Newark, NJ", metadata=False),
    "us-southeast": Region("Atlanta, GA", metadata=False),
    "us-west": Region("Fremont, CA", metadata=False),
}

TYPES: dict[str, InstanceType] = {
    "g6-nanode-1": InstanceType("Nanode 1 GB", 1, 1024),
    "g6-standard-1": InstanceType("Linode 2 GB", 1, 2048),
    "g6-standard-2": InstanceType("Linode 4 GB", 2, 4096),
    "g6-standard-4": InstanceType("Linode 8 GB", 4, 8192),
    "g6-standard-6": InstanceType("Linode 16 GB", 6, 16384),
    "g6-dedicated-2": InstanceType("Dedicated 4 GB", 2, 4096),
    "g6-dedicated-4": InstanceType("Dedicated 8 GB", 4, 8192),
}

# Linode images flagged "cloud-init" (their capabilities list it).
CLOUD_INIT_IMAGES: frozenset[str] = frozenset({"linode/debian12", "linode/rocky9"})
