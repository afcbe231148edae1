"""The environment's configuration: typed models, cross-field checks and the loader."""
