"""Package discovery for the one import namespace: the top-level folders hdl/, golden/, sim/
and boards/ (the product's layout) install as ghostfpga.hdl, ghostfpga.golden, ghostfpga.sim
and ghostfpga.boards beside the face package ghostfpga/, every subpackage included (a new
folder with an __init__.py needs no entry anywhere). The example configs (examples/*.toml, the
boards' default configs among them) install as the data package ghostfpga.examples, and the
ECP5 cell models (sim/ecp5_cells.v) with ghostfpga.sim. The
metadata is in pyproject.toml."""

from setuptools import find_packages, setup

ROOTS = {"ghostfpga": "ghostfpga", "ghostfpga.golden": "golden", "ghostfpga.hdl": "hdl",
         "ghostfpga.sim": "sim", "ghostfpga.boards": "boards"}

packages = []
for name, folder in ROOTS.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages + ["ghostfpga.examples"],
      package_dir=ROOTS | {"ghostfpga.examples": "examples"},
      package_data={"ghostfpga.examples": ["*.toml"], "ghostfpga.sim": ["*.v"]})
