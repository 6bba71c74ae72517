"""Sphinx configuration of the course website (tools/build_site.py copies this folder).

The pages are executed notebooks rendered by myst-nb with sphinx-book-theme. Nothing is
loaded from the network: MathJax is the local copy build_site.py puts into _static/mathjax,
and no widget JavaScript is added (widgets appear as still output).
"""

project = "pruning-lessons"
author = "the pruning-lessons authors"
language = "en"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "node_modules", "**.ipynb_checkpoints"]

# the pages: notebooks executed by build_site.py, shown as they are
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN: the widgets are still output
nb_output_stderr = "show"
nb_merge_streams = True
nb_code_prompt_show = "Show the solution"  # only exercise solutions are folded
nb_code_prompt_hide = "Hide the solution"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 2

# math: the local MathJax 3 (copied to _static/mathjax by build_site.py)
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "pruning-lessons"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
html_show_sphinx = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
