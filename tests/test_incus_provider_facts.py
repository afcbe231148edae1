"""The Incus binding is checked against facts read from the lxc/incus provider's own source at the
pinned release (components/incus/provider-facts.json, written by provider_facts.py), not against
names written down by hand."""

from __future__ import annotations

import re

from components.incus import binding, provider_facts, schema

# The shape of a terraform-plugin-framework Schema method, as lxc/incus writes them.
GO = '''
func (r ThingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required: true,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.RequiresReplace(),
				},
			},
			"config": schema.MapAttribute{
				Optional:    true,
				Computed:    true,
				ElementType: types.StringType,
			},
			"status": schema.StringAttribute{
				Computed: true,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
				},
			},
		},
		Blocks: map[string]schema.Block{
			"device": schema.SetNestedBlock{
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"type": schema.StringAttribute{
							Required: true,
						},
					},
				},
			},
		},
	}
}
'''


def test_the_extractor_reads_kinds_replacement_and_nested_blocks():
    facts = provider_facts.schema_facts(GO)
    assert facts == {
        "name": {"kind": "required", "requires_replace": True},
        "config": {"kind": "optional", "requires_replace": False},
        "status": {"kind": "computed", "requires_replace": False},
        "device": {"kind": "optional", "requires_replace": False, "block": True,
                   "nested": {"type": {"kind": "required", "requires_replace": False}}},
    }


def test_facts_are_those_of_the_pinned_release():
    facts = provider_facts.load()
    assert facts["source"] == "github.com/lxc/terraform-provider-incus"
    assert facts["tag"] == f"v{binding.PROVIDER_VERSION}", "regenerate provider-facts.json after a bump"
    assert re.fullmatch(r"[0-9a-f]{40}", facts["commit"])
    assert {name: s["file"] for name, s in facts["schemas"].items()} == provider_facts.SOURCES


def test_the_schema_the_binding_is_checked_against_comes_from_the_facts():
    facts = provider_facts.load()["schemas"]
    for name, resource in schema.RESOURCES.items():
        elements = facts[name]["elements"]
        assert set(resource.attributes) | set(resource.blocks) == set(elements)
        assert resource.requires_replace == {k for k, e in elements.items() if e["requires_replace"]}
    # lxc/incus 1.1.1 has no provider-level project (internal/provider/provider.go).
    assert "project" not in schema.PROVIDER.attributes
    assert "project" not in {k for k in binding.ProviderArgs.__init__.__code__.co_varnames}


def test_the_facts_the_day_two_plan_relies_on():
    instance = schema.RESOURCES["incus_instance"]
    assert {"image", "type", "project", "remote", "target"} <= instance.requires_replace
    assert not {"config", "profiles", "running", "description", "name"} & instance.requires_replace
    assert {"name", "pool", "content_type"} <= schema.RESOURCES["incus_storage_volume"].requires_replace
    assert {"name", "type"} <= schema.RESOURCES["incus_network"].requires_replace
    assert "config" not in schema.RESOURCES["incus_profile"].requires_replace
