"""A trained run's report as evaluate and scan read it: the data settings its test split needs.

Shared by the tests of ``data.prepared`` (which prepares the split from it) and of
``train.report`` (which reads it back), so both check the same report.
"""

REPORT = {
    "data": "synthetic",
    "config": {
        "data_dir": None,
        "permute": 3,
        "seed": 5,
        "val_fraction": 0.25,
        "standardize": True,
    },
}
