"""MkDocs hook: the command-line reference, generated from the argparse parser.

``docs/cli.md`` holds a marker ``<!-- cli-help: VERB -->`` under each verb's hand-written
overview (``attngan`` for the top-level parser); the built page gets the verb's
``--help`` text there, so the reference cannot drift from the code. On GitHub the
markers are invisible HTML comments. ``keras_attngan.cli.parser()`` does not import
TensorFlow, so this costs the build a fraction of a second.

The build fails (``PluginError``) when a verb of the parser has no marker or a marker
names no verb: a new verb needs an overview in ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!--\s*cli-help:\s*([\w-]+)\s*-->")
PAGE = "cli.md"
#: the width the help text is wrapped to (argparse reads $COLUMNS)
WIDTH = "88"


def _help_texts() -> dict[str, str]:
    """{"attngan": the top-level --help, VERB: each verb's --help}."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if root not in sys.path:  # the working tree's package, not an installed copy
        sys.path.insert(0, root)
    from keras_attngan.cli import parser as make_parser

    saved = {name: os.environ.get(name) for name in ("COLUMNS", "NO_COLOR")}
    os.environ["COLUMNS"], os.environ["NO_COLOR"] = WIDTH, "1"
    try:
        parser = make_parser()
        texts = {"attngan": parser.format_help()}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                texts.update({verb: sub.format_help()
                              for verb, sub in action.choices.items()})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return texts


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    texts = _help_texts()
    found = MARKER.findall(markdown)
    unknown = sorted(set(found) - set(texts))
    missing = sorted(set(texts) - set(found))
    if unknown or missing:
        raise PluginError(
            f"docs/{PAGE}: " + "; ".join(
                part for part in (
                    f"markers for no verb of the parser: {', '.join(unknown)}" if unknown else "",
                    f"verbs without a '<!-- cli-help: VERB -->' marker: {', '.join(missing)}"
                    if missing else "")
                if part))

    def replace(match: re.Match) -> str:
        verb = match.group(1)
        title = "attngan --help" if verb == "attngan" else f"attngan {verb} --help"
        return f"`{title}`:\n\n```text\n{texts[verb].rstrip()}\n```\n"

    return MARKER.sub(replace, markdown)
