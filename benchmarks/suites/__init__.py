"""The benchmark suites, one YAML file each, shipped in the wheel as the package data
``convzoo.suites``; ``convzoo.bench.shipped`` finds them by name."""
