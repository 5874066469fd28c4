"""The registry's rules: registration forms, duplicates, lookups with suggestions, listing."""

from __future__ import annotations

import pytest
from torch import nn

import convzoo as cz
from convzoo.registry import FAMILIES, Registry, RegistryError, natural_key


class Median(nn.Module):
    """median over windows"""

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel


def test_families_are_the_documented_ones():
    assert (
        Registry().families
        == FAMILIES
        == ("filter", "act", "pool", "norm", "residual", "head", "capsule")
    )


def test_register_as_decorator_and_as_call():
    reg = Registry()

    @reg.register("pool", "median", description="median pooling")
    class A(Median):
        pass

    reg.register("pool", "median2", Median)
    assert reg.get("pool", "median").obj is A
    assert reg.get("pool", "median").description == "median pooling"
    # without a description the first docstring line is used
    assert reg.get("pool", "median2").description == "median over windows"
    assert reg.get("pool", "median2").source == __name__


def test_duplicate_names_both_modules_and_override_replaces():
    reg = Registry()
    reg.register("pool", "median", Median)

    def other_median(kernel: int = 3) -> nn.Module:
        return Median(kernel)

    with pytest.raises(RegistryError) as err:
        reg.register("pool", "median", other_median)
    message = str(err.value)
    assert f"{__name__}.Median" in message
    assert f"{__name__}.test_duplicate_names_both_modules_and_override_replaces" in message
    assert "override=True" in message
    reg.register("pool", "median", other_median, override=True)
    assert reg.get("pool", "median").obj is other_median


def test_unknown_name_suggests_the_closest():
    with pytest.raises(RegistryError) as err:
        cz.get_block("pool", "maxx")
    message = str(err.value)
    assert "pool" in message and "did you mean 'max'" in message.lower()
    assert "Available names:" in message and "avg" in message


def test_unknown_family_suggests_the_closest():
    with pytest.raises(RegistryError) as err:
        cz.get_block("pools", "max")
    assert "did you mean 'pool'" in str(err.value).lower()
    assert "filter, act, pool" in str(err.value)


@pytest.mark.parametrize("name", ["os.system", "os:system", "Max", "1x1", "a-b", "", "../x"])
def test_a_name_is_a_key_never_an_import_path(name):
    reg = Registry()
    with pytest.raises(RegistryError, match="never an import path"):
        reg.register("pool", name, Median)
    with pytest.raises(RegistryError):
        reg.get("pool", name)


def test_lookup_of_an_import_path_does_not_import_it():
    import sys

    sys.modules.pop("this", None)
    with pytest.raises(RegistryError):
        cz.get_block("act", "this")
    with pytest.raises(cz.ConvzooError, match="unknown act block 'antigravity.fly'"):
        cz.build({"input": [1, 4, 4], "layers": [{"act": "antigravity.fly"}]})
    assert "this" not in sys.modules and "antigravity" not in sys.modules


def test_listing_is_natural_order_and_filters_by_glob():
    reg = Registry()
    for name in ["conv10", "conv2", "blur", "conv1"]:
        reg.register("filter", name, Median)
    assert [b.name for b in reg.list(family="filter")] == ["blur", "conv1", "conv2", "conv10"]
    assert [b.name for b in reg.list("conv?", family="filter")] == ["conv1", "conv2"]
    assert natural_key("a10") > natural_key("a9")


def test_metadata_is_kept():
    reg = Registry()
    reg.register(
        "pool", "median", Median, dims=[2], reference="Someone 2020", example={"kernel": 3}
    )
    info = reg.get("pool", "median")
    assert (info.family, info.name, info.dims, info.reference) == (
        "pool",
        "median",
        (2,),
        "Someone 2020",
    )
    assert info.example == {"kernel": 3} and info.key == "pool.median"
    with pytest.raises(RegistryError, match="dims"):
        reg.register("pool", "bad", Median, dims=[3])


def test_repr_lists_families_and_names():
    text = repr(cz.REGISTRY)
    assert text.startswith("Registry(")
    assert "pool" in text and "max" in text


def test_add_family_is_general():
    reg = Registry()
    reg.add_family("data")
    reg.register("data", "digits", Median)
    assert reg.get("data", "digits").family == "data"
    with pytest.raises(RegistryError):
        reg.add_family("data")


def test_loaders_run_once_before_first_lookup():
    reg = Registry()
    calls = []
    reg.add_loader(lambda r: calls.append(1) or r.register("act", "late", Median))
    assert calls == []
    assert reg.get("act", "late").obj is Median
    reg.list()
    assert calls == [1]


def test_a_dataset_is_called_a_dataset_in_every_message():
    from convzoo.data import DATASETS, register_dataset

    with pytest.raises(RegistryError, match=r"^unknown dataset 'mnits'\. Did you mean 'mnist'"):
        DATASETS.get("data", "mnits")
    with pytest.raises(RegistryError, match=r"^dataset 'mnist' is already registered by convzoo"):
        register_dataset("mnist")(lambda d, dl: None)
    with pytest.raises(RegistryError, match=r"^invalid dataset name 'Mnist'"):
        register_dataset("Mnist")(lambda d, dl: None)
    assert Registry().what("act", "relu") == "act block 'relu'"
