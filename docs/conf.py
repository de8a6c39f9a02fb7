"""Sphinx configuration of the hsigeo documentation (``make docs``).

Why Sphinx: hsigeo's docstrings are numpydoc, and the numpydoc extension is their reference
renderer (Parameters/Returns/Raises tables, See Also); autodoc imports the real objects, so
the signatures shown are the ones users call, lazy top-level names included.  MyST lets the
user-guide pages take their text from README.md sections (one source, no copy to drift).
The build needs no network: no intersphinx, the built-in theme, no remote images.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # hsigeo from this checkout, also without an install

import hsigeo  # noqa: E402

project = "hsigeo"
author = "the hsigeo authors"
copyright = "2026, the hsigeo authors"  # noqa: A001 - Sphinx setting
release = version = hsigeo.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# README sections become pages; their headings get the GitHub-style anchors the README links use
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
# Two warnings are expected from quoting README sections, and only those are silenced:
# - myst.header: a page starts at its own title, then the quoted section's ###/#### headings;
# - myst.xref_missing: the README's links to its other sections (#the-model...) and to repository
#   files (DESIGN.md, examples/prompts) have no target inside one page of the site.
suppress_warnings = ["myst.header", "myst.xref_missing"]

autodoc_typehints = "none"  # numpydoc shows the types from the docstrings; hints stay in the signature
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # members are listed by autodoc (:members:), once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"hsigeo {release}"
html_static_path: list[str] = []
