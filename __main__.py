"""homelab: validate the stack's config, then declare every layer."""

from stacks import program
from stacks.config import loader
from stacks.secrets import Secrets

program.main(loader.load(), Secrets())
