"""The ``hsigeo`` command-line front end (installed as the ``hsigeo_cli`` package)."""
