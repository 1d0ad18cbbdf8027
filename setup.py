"""Build hook: copy the shipped top-level folders into the wheel as package resources.

``models/``, ``macros/``, ``pipelines/`` and ``fiji/`` stay at the top of the source
tree (the layout is fixed by the design); a wheel carries the files listed in
``SHIPPED`` under ``fijibridge/_shipped/<folder>/``, where
:func:`fijibridge.shipped.shipped_dir` finds them.  An editable install
(``pip install -e .``) copies nothing: ``shipped_dir`` then reads the source tree.

Earlier versions such as ``models/nuclei2d/v1``, training runs and the bioimage.io
export folder are left out: nothing in the package reads them at run time.  Research
studies live in the top-level ``experiments/`` folder, which is not a package and is
never copied.  Everything else is configured in
``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: folder -> glob patterns (relative to the folder) of the files the wheel ships
SHIPPED = {
    "models": ["*/model.pt", "*/model_card.md", "*/train.yml"],
    "macros": ["*.ijm"],
    "pipelines": ["*.yml"],
    "fiji": ["README.md", "python/*.py", "jython/*.py"],
}


class BuildPyWithShipped(build_py):
    """``build_py`` that also copies the :data:`SHIPPED` files into the build folder."""

    def run(self):
        super().run()
        if self.editable_mode:  # the source tree itself is used
            return
        root = Path(__file__).resolve().parent
        for folder, patterns in SHIPPED.items():
            for pattern in patterns:
                for src in sorted((root / folder).glob(pattern)):
                    rel = src.relative_to(root / folder)
                    dst = Path(self.build_lib) / "fijibridge" / "_shipped" / folder / rel
                    self.mkpath(str(dst.parent))
                    self.copy_file(str(src), str(dst))


setup(cmdclass={"build_py": BuildPyWithShipped})
