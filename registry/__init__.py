"""The named architectures, one YAML spec each, shipped in the wheel as the package data
``convzoo.zoo`` (``importlib.resources.files("convzoo.zoo")``); ``convzoo.archs`` finds them."""
