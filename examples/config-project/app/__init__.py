"""A small config-driven project: see ../hotload.toml and ../README.md."""
