"""Build hook of the ``gait-upload`` distribution: from the ``gaitcore`` package only the data-layer
modules are packaged (the model, training and CLI modules need torch and stay out)."""

from setuptools import setup
from setuptools.command.build_py import build_py

GAITCORE_MODULES = {"__init__", "errors", "schemas", "sessionfile", "validation", "qc"}


class DataLayerOnly(build_py):
    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if package == "gaitcore":
            modules = [m for m in modules if m[1] in GAITCORE_MODULES]
        if package == "uploader":
            modules = [m for m in modules if m[1] != "setup"]
        return modules


setup(cmdclass={"build_py": DataLayerOnly})
