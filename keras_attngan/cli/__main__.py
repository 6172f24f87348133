"""``python -m keras_attngan.cli``: the ``attngan`` command."""

from keras_attngan.cli.app import entry_point

entry_point()
