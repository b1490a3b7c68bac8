"""fake.broken — a plugin module that cannot be imported (as when a dependency is missing)."""

raise ImportError("fake_registry_plugin.broken needs the package 'not-installed-anywhere'")
