"""The clinical data files (catalogue.toml, thresholds.toml), installed as the package
`il2_monitor_data` (pyproject.toml maps it to this folder) so that a wheel carries them: the monitor
runs outside a checkout (issue 17). IL2_DATA_DIR points the monitor at a hospital's own copies."""
