from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("target_intercom/__init__.py").read_text(), version)

setup(
    name="target-intercom",
    version=version["__version__"],
    description="Singer target that loads users into Intercom as contacts",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["target_intercom", "target_intercom.*"]),
    install_requires=[
        "singer-python>=6,<7",
        "python-intercom>=5,<6",
        "jsonschema",
        "httpx>=0.21",
        # httpcore imports it on every async request when present; cheap insurance.
        "sniffio",
    ],
    extras_require={
        "test": ["pytest>=7", "pyyaml>=6", "cryptography>=3.1"],
    },
    entry_points={"console_scripts": ["target-intercom=target_intercom.cli:main"]},
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
    ],
)
